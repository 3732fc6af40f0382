// Flink's own configuration loader (GlobalConfiguration with its snakeyaml-engine parser, what a
// JobManager runs at start) reads the config.yaml the workspace agent renders: every entry comes
// back exactly as meant, hostile values included, and nothing else appears. Also shows why the
// protocol refuses DEL and C1 control characters: Flink rejects the whole file for one of them.
// Needs java and the Flink runtime of `bash test/cluster/fetch-flink.sh`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { deploymentSpec } from "@meridian/shared/protocol/index";
import { renderConfigYaml } from "@meridian/workspace-agent/flink/config-yaml";
import { buildConfigMap, type DeploymentContext, flinkConfig } from "@meridian/workspace-agent/flink/objects";
import { SPEC_INPUT } from "@meridian/workspace-agent/flink/spec.testutil";
import { assertFlinkHome, findJava, flinkHomeDir } from "../cluster/flink/image-handler.ts";

const run = promisify(execFile);
const READER = join(import.meta.dirname, "java", "ReadFlinkConfig.java");
let dir: string;

before(async () => {
  assertFlinkHome(flinkHomeDir());
  dir = await mkdtemp(join(tmpdir(), "meridian-flink-conf-"));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The configuration Flink loads from a conf dir holding `text` as config.yaml. */
async function flinkReads(text: string): Promise<Record<string, string>> {
  await writeFile(join(dir, "config.yaml"), text);
  const { stdout } = await run(findJava(), ["-cp", join(flinkHomeDir(), "lib", "*"), READER, dir], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const b64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString("utf8");
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n").filter(Boolean)) {
    const [k, v] = line.split(" ");
    out[b64(k)] = b64(v);
  }
  return out;
}

const printableAscii = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");

test("Flink reads back every entry of the rendered config.yaml exactly, hostile values included", async () => {
  const spec = deploymentSpec.parse({
    ...SPEC_INPUT,
    flinkConfiguration: {
      "pipeline.global-job-parameters": "a:1,b:2",
      "v.newline": "x\nrest.port: 1",
      "v.crlf": "x\r\njobmanager.rpc.port: 2\r\n",
      "v.ascii": printableAscii,
      "v.quotes": `"double" 'single' \\" \\\\ # not a comment`,
      "v.yaml": "{a: [b]} &x *x !!binary %YAML ---\n...",
      "v.spaces": "  leading, trailing  ",
      "v.space-newline": "a \n b",
      "v.empty": "",
      "v.tab": "tab\tinside",
      "v.unicode": "nel\u0085 ls\u2028 ps\u2029 bom\ufeff nbsp\u00a0 😀 ключ",
      "v.long": "word ".repeat(1500),
      "v.typed": "true",
      null: "a key YAML would read as null",
      "1.5": "a key YAML would read as a number",
    },
  });
  const ctx: DeploymentContext = {
    workspaceId: "team-a",
    namespace: "mw-team-a",
    spec,
    savepointBaseDir: undefined,
  };
  const text = buildConfigMap(ctx, "{}").data?.["config.yaml"] ?? "";
  assert.deepEqual(await flinkReads(text), flinkConfig(ctx));
});

test("one raw DEL or C1 control character makes Flink reject the whole file, so none is ever written", async () => {
  await assert.rejects(
    flinkReads('# raw DEL\na.b: "x\u007fy"\n'),
    /unacceptable code point|special characters/,
  );
  await assert.rejects(
    flinkReads('# raw C1\na.b: "x\u0090y"\n'),
    /unacceptable code point|special characters/,
  );
  assert.throws(() => renderConfigYaml({ "a.b": "x\u007fy" }), /config\.yaml cannot carry/);
  assert.throws(() => renderConfigYaml({ "a.b": "x\u0090y" }), /config\.yaml cannot carry/);
});
