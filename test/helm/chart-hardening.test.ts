// The chart's side of the workspace namespaces' hardening (no cluster): the Pod Security level of the
// local policy reaches the agent and pins the confinement policy's Namespace check, a relaxed level needs
// a reason, and NOTES warn about what a customer must decide (egress for Flink, a relaxed level).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { CHART_DIR, helm, one, render, valueArgs } from "./helm.ts";

const agentPolicyText = async (sets: string[], set: Record<string, string> = {}) =>
  JSON.stringify(
    (await render(sets, set)).find(
      (m) => m.metadata.name.endsWith("-confinement") && m.kind === "ValidatingAdmissionPolicy",
    )?.spec,
  );

const notes = async (set: Record<string, string>) => {
  const res = await helm(["install", "r", CHART_DIR, "--dry-run=client", ...valueArgs(["defaults"], set)]);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout.slice(res.stdout.indexOf("NOTES:"));
};

test("the confinement policy holds the agent to the policy's Pod Security level and version", async () => {
  const restricted = await agentPolicyText(["defaults"]);
  assert.match(restricted, /labels\['pod-security\.kubernetes\.io\/enforce'\] == 'restricted'/);
  assert.match(restricted, /labels\['pod-security\.kubernetes\.io\/enforce-version'\] == 'latest'/);
  const relaxed = await agentPolicyText(["strict-policy"]);
  assert.match(relaxed, /labels\['pod-security\.kubernetes\.io\/enforce'\] == 'baseline'/);
  assert.match(relaxed, /labels\['pod-security\.kubernetes\.io\/enforce-version'\] == 'v1\.35'/);
});

test("the policy file carries podSecurity (the reason only when relaxed) and allowedEgress", async () => {
  const policy = (m: Awaited<ReturnType<typeof render>>) => parse(one(m, "ConfigMap").data["policy.yaml"]);
  const withReason = await render(["defaults"], { "policy.podSecurity.reason": "not needed" });
  assert.deepEqual(policy(withReason).podSecurity, { enforce: "restricted", version: "latest" });
  assert.deepEqual(policy(withReason).allowedEgress, []);
  const strict = policy(await render(["strict-policy"]));
  assert.equal(strict.podSecurity.reason, "the corporate log shipper sidecar runs as root");
  assert.deepEqual(strict.allowedEgress, [
    { cidr: "10.40.0.0/16", except: ["10.40.9.0/24"], ports: [443, 9093] },
  ]);
});

test("NOTES warn when Flink may reach nothing outside its namespace, and when Pod Security is relaxed", async () => {
  const defaults = await notes({});
  assert.match(
    defaults,
    /WARNINGS[\s\S]*policy\.allowedEgress is empty: on a cluster that enforces NetworkPolicy/,
  );
  assert.doesNotMatch(defaults, /policy\.podSecurity\.enforce is/);
  const declared = await notes({ "policy.allowedEgress[0].cidr": "52.216.0.0/15" });
  assert.doesNotMatch(declared, /policy\.allowedEgress is empty/);
  const relaxed = await notes({
    "policy.podSecurity.enforce": "baseline",
    "policy.podSecurity.reason": "a root sidecar",
  });
  assert.match(
    relaxed,
    /policy\.podSecurity\.enforce is baseline: workspace namespaces do not enforce .*\(a root sidecar\)/,
  );
});
