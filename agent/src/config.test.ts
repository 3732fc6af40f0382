import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { readSettingsSection, renderSettingsTable } from "@meridian/shared/process/settings-doc";
import { AGENT_SETTINGS, ConfigError, loadConfig, parseDurationMs, SETTINGS } from "./config.ts";

const files: Record<string, string> = {
  "/t/token": "secret-token\n",
  "/t/ca.pem": "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n",
  "/t/policy.yaml": "namespacePrefix: ws-\nquotaCeilings:\n  cpu: '16'\norphanGracePeriodSeconds: 60\n",
  "/t/bad-policy.yaml": "quotaCeilings:\n  cpu: lots\nextra: 1\n",
};
const readFile = (p: string) => {
  const f = files[p];
  if (f === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
  return f;
};
const base = {
  MERIDIAN_CONTROL_PLANE_URL: "https://cp.example.com/",
  MERIDIAN_AGENT_ID: "cluster-1",
  MERIDIAN_TOKEN_FILE: "/t/token",
};

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

test("environment and defaults give a complete config; flags win over the environment", () => {
  const c = loadConfig({ flags: {}, env: base, readFile });
  assert.equal(c.controlPlaneUrl, "https://cp.example.com");
  assert.equal(c.leaseDurationMs, 15000);
  assert.equal(c.leaderElection, true);
  assert.equal(c.policy.namespacePrefix, "mw-");
  assert.match(c.identity, /_[0-9a-f]{6}$/);
  assert.deepEqual(c.workspaceAgentPullSecrets, []);
  const f = loadConfig({
    flags: {
      leaseDurationMs: "20s",
      agentId: "from-flag",
      policyFile: "/t/policy.yaml",
      caFile: "/t/ca.pem",
    },
    env: { ...base, MERIDIAN_LEASE_DURATION_MS: "5000", MERIDIAN_WORKSPACE_AGENT_PULL_SECRETS: "a, b" },
    readFile,
  });
  assert.equal(f.leaseDurationMs, 20000);
  assert.equal(f.agentId, "from-flag");
  assert.equal(f.policy.namespacePrefix, "ws-");
  assert.equal(f.policy.orphanGracePeriodSeconds, 60);
  assert.match(f.caPem ?? "", /BEGIN CERTIFICATE/);
  assert.deepEqual(f.workspaceAgentPullSecrets, ["a", "b"]);
});

test("a bad value names the setting, its source and what was expected", () => {
  const p = problemsOf(() =>
    loadConfig({
      flags: {},
      env: { ...base, MERIDIAN_LEASE_DURATION_MS: "soon", MERIDIAN_KUBE_CONCURRENCY: "0" },
      readFile,
    }),
  );
  assert.equal(p.length, 2);
  assert.match(
    p[0]!,
    /--lease-duration-ms \/ MERIDIAN_LEASE_DURATION_MS \(from env: "soon"\).*expected a duration/,
  );
  assert.match(p[1]!, /--kube-concurrency .*\(from env: "0"\).*integer from 1 to 256/);
});

test("missing required settings and unreadable files are reported together", () => {
  const p = problemsOf(() => loadConfig({ flags: {}, env: {}, readFile }));
  assert.ok(p.some((x) => /--control-plane-url .*\(from default: not set\): is required/.test(x)));
  assert.ok(p.some((x) => /--agent-id/.test(x)));
  const q = problemsOf(() => loadConfig({ flags: { tokenFile: "/t/none" }, env: base, readFile }));
  assert.match(q[0]!, /--token-file .*\(from flag: "\/t\/none"\): cannot read \/t\/none \(ENOENT\)/);
});

test("timing must nest: retry < renew deadline < lease duration", () => {
  const p = problemsOf(() =>
    loadConfig({ flags: { renewDeadlineMs: "15000", leaseDurationMs: "15000" }, env: base, readFile }),
  );
  assert.match(
    p[0]!,
    /--renew-deadline-ms .*\(from flag: "15000"\): 15000 ms is not shorter than the lease duration/,
  );
});

test("policy file problems name the file, the field and source 'file'", () => {
  const p = problemsOf(() =>
    loadConfig({ flags: { policyFile: "/t/bad-policy.yaml" }, env: base, readFile }),
  );
  assert.ok(
    p.some((x) =>
      /^policy file \/t\/bad-policy\.yaml \(from file\): quotaCeilings\.cpu: must be a Kubernetes quantity/.test(
        x,
      ),
    ),
  );
  assert.ok(p.some((x) => /\(root\): .*extra/.test(x)));
});

test("durations accept ms and units; every setting has a flag, an env and an expectation", () => {
  assert.equal(parseDurationMs("1500"), 1500);
  assert.equal(parseDurationMs("2s"), 2000);
  assert.equal(parseDurationMs("1.5m"), 90000);
  assert.equal(parseDurationMs("x"), undefined);
  for (const s of SETTINGS) assert.ok(s.flag && s.env && s.expected && s.description, s.key);
});

test("KUBECONFIG is read when MERIDIAN_KUBECONFIG is unset, as kubectl does; the Meridian name wins", () => {
  assert.equal(loadConfig({ flags: {}, env: base, readFile }).kubeconfig, undefined);
  assert.equal(loadConfig({ flags: {}, env: { ...base, KUBECONFIG: "/k/a" }, readFile }).kubeconfig, "/k/a");
  const both = loadConfig({
    flags: {},
    env: { ...base, KUBECONFIG: "/k/a", MERIDIAN_KUBECONFIG: "/k/b" },
    readFile,
  });
  assert.equal(both.kubeconfig, "/k/b");
});

test("docs/configuration.md lists exactly the settings of this table", () => {
  const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
  assert.equal(
    readSettingsSection(doc, "agent"),
    renderSettingsTable(AGENT_SETTINGS),
    "docs/configuration.md and the settings table disagree: run `npm run docs:config`",
  );
});
