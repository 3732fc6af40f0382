import assert from "node:assert/strict";
import { test } from "node:test";
import { buildCli } from "./cli.ts";
import { describeConfig, loadConfig } from "./config.ts";

const env = {
  MERIDIAN_CONTROL_PLANE_URL: "https://cp.example.com/",
  MERIDIAN_WORKSPACE_ID: "team-a",
  MERIDIAN_NAMESPACE: "mw-team-a",
  MERIDIAN_POD_NAME: "wsa-0",
  MERIDIAN_HEALTH_ADDR: "10.0.0.5:8080",
  MERIDIAN_CREDENTIAL_SECRET: "meridian-workspace-credential",
  MERIDIAN_FLINK_ALLOWED_REGISTRIES: "docker.io/library/flink, registry.example.com/flink",
  MERIDIAN_SAVEPOINT_BASE_DIR: "s3://bucket/savepoints/",
  HTTPS_PROXY: "http://user:secret@proxy:3128",
  NO_PROXY: ".svc",
};

test("the agent Deployment's environment is read, normalised and defaulted", () => {
  const c = loadConfig({}, env);
  assert.equal(c.controlPlaneUrl, "https://cp.example.com");
  assert.equal(c.workspaceId, "team-a");
  assert.equal(c.healthAddr, "10.0.0.5:8080");
  assert.deepEqual(c.flinkAllowedRegistries, ["docker.io/library/flink", "registry.example.com/flink"]);
  assert.equal(c.savepointBaseDir, "s3://bucket/savepoints");
  assert.equal(c.logLevel, "info");
  assert.equal(c.flinkPollIntervalMs, 2000);
  assert.equal(c.kubeconfig, undefined);
  assert.equal(c.proxy.httpsProxy, "http://user:secret@proxy:3128");
  assert.equal(c.proxy.noProxy, ".svc");
  assert.equal(
    describeConfig(c).proxy && (describeConfig(c).proxy as { httpsProxy: string }).httpsProxy,
    "http://[REDACTED]@proxy:3128",
  );
});

test("flags win over the environment", () => {
  const c = loadConfig({ workspaceId: "team-b", logLevel: "debug" }, env);
  assert.equal(c.workspaceId, "team-b");
  assert.equal(c.logLevel, "debug");
});

test("bad and missing settings are all named with their source and what was expected", () => {
  assert.throws(
    () =>
      loadConfig(
        { flinkPollIntervalMs: "fast" },
        {
          ...env,
          MERIDIAN_WORKSPACE_ID: undefined,
          MERIDIAN_CONTROL_PLANE_URL: "ftp://x",
          MERIDIAN_LOG_LEVEL: "loud",
        },
      ),
    (err: Error) => {
      assert.match(
        err.message,
        /workspaceId is missing: set flag --workspace-id or env MERIDIAN_WORKSPACE_ID/,
      );
      assert.match(
        err.message,
        /controlPlaneUrl from env MERIDIAN_CONTROL_PLANE_URL is "ftp:\/\/x": expected an http\(s\) URL/,
      );
      assert.match(err.message, /logLevel from env MERIDIAN_LOG_LEVEL is "loud": expected one of trace/);
      assert.match(err.message, /flinkPollIntervalMs from flag --flink-poll-interval-ms is "fast"/);
      return true;
    },
  );
  assert.throws(
    () => loadConfig({}, { ...env, MERIDIAN_SAVEPOINT_BASE_DIR: "/no/scheme" }),
    /savepointBaseDir/,
  );
});

test("the CLI runs with the loaded config, prints its version, and exits 2 on bad settings", async () => {
  let got: unknown;
  const out: string[] = [];
  const cli = buildCli({
    run: async (c) => {
      got = c;
    },
    env,
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  });
  await cli.parseAsync(["node", "x", "run", "--flink-poll-interval-ms", "500"]);
  assert.equal((got as { flinkPollIntervalMs: number }).flinkPollIntervalMs, 500);
  await buildCli({ run: async () => {}, env, out: (l) => out.push(l) }).parseAsync(["node", "x", "version"]);
  assert.match(out.at(-1) ?? "", /^\d+\.\d+\.\d+/);
  const before = process.exitCode;
  await buildCli({
    run: async () => assert.fail("must not run"),
    env: {},
    err: (l) => out.push(l),
  }).parseAsync(["node", "x", "run"]);
  assert.equal(process.exitCode, 2);
  process.exitCode = before;
  assert.match(out.at(-1) ?? "", /invalid workspace agent configuration/);
});
