import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ConfigError } from "@meridian/shared/process/settings";
import { readSettingsSection, renderSettingsTable } from "@meridian/shared/process/settings-doc";
import { buildCli } from "./cli.ts";
import { describeConfig, loadConfig, WORKSPACE_AGENT_SETTINGS } from "./config.ts";

const env = {
  MERIDIAN_CONTROL_PLANE_URL: "https://cp.example.com/",
  MERIDIAN_WORKSPACE_ID: "team-a",
  MERIDIAN_NAMESPACE: "mw-team-a",
  MERIDIAN_POD_NAME: "wsa-0",
  MERIDIAN_HEALTH_ADDR: "10.0.0.5:8080",
  MERIDIAN_CREDENTIAL_SECRET: "meridian-workspace-credential",
  MERIDIAN_FLINK_ALLOWED_REGISTRIES: "docker.io/library/flink, registry.example.com/flink",
  MERIDIAN_FLINK_ALLOWED_JAR_URIS: "s3://acme-jobs/releases, gs://acme-jobs",
  MERIDIAN_SAVEPOINT_BASE_DIR: "s3://bucket/savepoints/",
  HTTPS_PROXY: "http://user:secret@proxy:3128",
  NO_PROXY: ".svc",
};

test("the agent Deployment's environment is read, normalised and defaulted", () => {
  const c = loadConfig({ flags: {}, env });
  assert.equal(c.controlPlaneUrl, "https://cp.example.com");
  assert.equal(c.workspaceId, "team-a");
  assert.equal(c.healthAddr, "10.0.0.5:8080");
  assert.deepEqual(c.flinkAllowedRegistries, ["docker.io/library/flink", "registry.example.com/flink"]);
  assert.deepEqual(c.flinkAllowedJarURIs, ["s3://acme-jobs/releases", "gs://acme-jobs"]);
  assert.deepEqual(
    loadConfig({ flags: {}, env: { ...env, MERIDIAN_FLINK_ALLOWED_JAR_URIS: undefined } })
      .flinkAllowedJarURIs,
    [],
    "unset: only local:// jars inside the image",
  );
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
  const c = loadConfig({ flags: { workspaceId: "team-b", logLevel: "debug" }, env });
  assert.equal(c.workspaceId, "team-b");
  assert.equal(c.logLevel, "debug");
});

test("bad and missing settings are all named with their source and what was expected", () => {
  assert.throws(
    () =>
      loadConfig({
        flags: { flinkPollIntervalMs: "fast" },
        env: {
          ...env,
          MERIDIAN_WORKSPACE_ID: undefined,
          MERIDIAN_CONTROL_PLANE_URL: "ftp://x",
          MERIDIAN_LOG_LEVEL: "loud",
        },
      }),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.problems.length, 4, err.message);
      assert.match(
        err.message,
        /setting --workspace-id \/ MERIDIAN_WORKSPACE_ID \(from default: not set\): is required; expected a workspace id/,
      );
      assert.match(
        err.message,
        /setting --control-plane-url \/ MERIDIAN_CONTROL_PLANE_URL \(from env: "ftp:\/\/x"\): must be an http\(s\) URL; expected an http\(s\) URL/,
      );
      assert.match(
        err.message,
        /--log-level \/ MERIDIAN_LOG_LEVEL \(from env: "loud"\): must be one of trace/,
      );
      assert.match(
        err.message,
        /--flink-poll-interval-ms \/ MERIDIAN_FLINK_POLL_INTERVAL_MS \(from flag: "fast"\)/,
      );
      return true;
    },
  );
  assert.throws(
    () =>
      loadConfig({
        flags: {},
        env: { ...env, MERIDIAN_FLINK_ALLOWED_JAR_URIS: "s3://ok,http://169.254.169.254/latest" },
      }),
    /--flink-allowed-jar-uris \/ MERIDIAN_FLINK_ALLOWED_JAR_URIS \(from env: .*\): allowedJarURIs entry has scheme "http:"/,
  );
  assert.throws(
    () => loadConfig({ flags: {}, env: { ...env, MERIDIAN_SAVEPOINT_BASE_DIR: "/no/scheme" } }),
    /--savepoint-base-dir .*\(from env: "\/no\/scheme"\): must be a URI with a scheme/,
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
  assert.match(out.at(-1) ?? "", /^meridian-workspace-agent \d+\.\d+\.\d+\n$/);
  const before = process.exitCode;
  await buildCli({
    run: async () => assert.fail("must not run"),
    env: {},
    err: (l) => out.push(l),
  }).parseAsync(["node", "x", "run"]);
  assert.equal(process.exitCode, 2);
  process.exitCode = before;
  assert.match(
    out.at(-1) ?? "",
    /^meridian-workspace-agent: invalid configuration:\n {2}setting --control-plane-url/,
  );
});

test("docs/configuration.md lists exactly the settings of this table", () => {
  const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
  assert.equal(
    readSettingsSection(doc, "workspace-agent"),
    renderSettingsTable(WORKSPACE_AGENT_SETTINGS),
    "docs/configuration.md and the settings table disagree: run `npm run docs:config`",
  );
});
