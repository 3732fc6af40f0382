import assert from "node:assert/strict";
import { test } from "node:test";
import { buildProcessCli, runProcessCli } from "./cli.ts";
import { integer, text } from "./setting-schemas.ts";
import { loadSettings, settingsTable } from "./settings.ts";

const table = settingsTable({
  workspaceId: {
    flag: "workspace-id",
    env: "X_WORKSPACE_ID",
    valueName: "<id>",
    description: "The workspace.",
    expected: "an id",
    schema: text,
  },
  kubeConcurrency: {
    flag: "kube-concurrency",
    env: "X_KUBE_CONCURRENCY",
    description: "Most requests at once.",
    expected: "an integer from 1 to 9",
    schema: integer(1, 9),
    default: () => "8",
  },
});

function cli(env: Record<string, string | undefined>, run: (c: unknown) => void = () => {}) {
  const out: string[] = [];
  const err: string[] = [];
  const program = buildProcessCli({
    name: "meridian-x",
    description: "x",
    runDescription: "run x",
    version: "1.2.3",
    settings: table,
    load: (input) => loadSettings(table, input),
    run: async (c) => run(c),
    env,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { program, out, err };
}

async function exitCodeOf(argv: string[], c = cli({})): Promise<number | undefined> {
  const before = process.exitCode;
  try {
    await runProcessCli(c.program, ["node", "x", ...argv]);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } finally {
    process.exitCode = before;
  }
}

test("run's flags and their help come from the settings table; flags win over the environment", async () => {
  let got: unknown;
  const c = cli({ X_WORKSPACE_ID: "env-id", X_KUBE_CONCURRENCY: "2" }, (v) => {
    got = v;
  });
  await runProcessCli(c.program, ["node", "x", "run", "--workspace-id", "flag-id"]);
  assert.deepEqual(got, { workspaceId: "flag-id", kubeConcurrency: 2 });
  const help = cli({});
  assert.equal(await exitCodeOf(["run", "--help"], help), 0);
  const text = help.out.join("").replace(/\s+/g, " ");
  assert.match(text, /--workspace-id <id> The workspace\. Expected: an id\. \[env X_WORKSPACE_ID\]/);
  assert.match(
    text,
    /--kube-concurrency <value> +Most requests at once\. Expected: an integer from 1 to 9\.\s+\[env X_KUBE_CONCURRENCY; default 8\]/,
  );
});

test("a bad setting exits 2 with every problem; a usage error exits 2; version exits 0", async () => {
  const bad = cli({ X_KUBE_CONCURRENCY: "0" }, () => assert.fail("must not run"));
  assert.equal(await exitCodeOf(["run"], bad), 2);
  assert.match(
    bad.err.join(""),
    /^meridian-x: invalid configuration:\n {2}setting --workspace-id \/ X_WORKSPACE_ID \(from default: not set\): is required/,
  );
  assert.match(bad.err.join(""), /setting --kube-concurrency \/ X_KUBE_CONCURRENCY \(from env: "0"\)/);
  const usage = cli({});
  assert.equal(await exitCodeOf(["run", "--no-such-flag"], usage), 2);
  assert.match(usage.err.join(""), /unknown option '--no-such-flag'/);
  const version = cli({});
  assert.equal(await exitCodeOf(["version"], version), 0);
  assert.deepEqual(version.out, ["meridian-x 1.2.3\n"]);
  assert.equal(await exitCodeOf(["--version"], version), 0);
  assert.deepEqual(version.out, ["meridian-x 1.2.3\n", "meridian-x 1.2.3\n"]);
});
