// The chart's confinement policies as rendered (no cluster): who they judge, what they name, that the
// release's values reach them, and that they can be turned off. What the API server makes of them is in
// test/agent/confinement.test.ts (the agent and workspace agents' own credentials against them).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CHART_DIR, helm, type Manifest, render, valueArgs } from "./helm.ts";

const policies = (manifests: Manifest[]) => manifests.filter((m) => m.kind === "ValidatingAdmissionPolicy");
const bindings = (manifests: Manifest[]) =>
  manifests.filter((m) => m.kind === "ValidatingAdmissionPolicyBinding");
const text = (m: Manifest | undefined) => JSON.stringify(m?.spec ?? {});

describe("defaults", async () => {
  const manifests = await render(["defaults"]);
  const [agent, workspace, flink] = policies(manifests);

  test("three policies, each bound to every request with Deny, failing closed", () => {
    assert.deepEqual(
      policies(manifests).map((p) => p.metadata.name),
      [
        "meridian-agent-confinement",
        "meridian-agent-workspace-confinement",
        "meridian-agent-flink-confinement",
      ],
    );
    for (const p of policies(manifests)) {
      assert.equal(p.spec.failurePolicy, "Fail");
      assert.deepEqual(p.spec.matchConstraints.resourceRules, [
        {
          apiGroups: ["*"],
          apiVersions: ["*"],
          operations: ["CREATE", "UPDATE", "DELETE"],
          resources: ["*/*"],
          scope: "*",
        },
      ]);
    }
    assert.deepEqual(
      bindings(manifests).map((b) => [b.metadata.name, b.spec.policyName, b.spec.validationActions]),
      policies(manifests).map((p) => [p.metadata.name, p.metadata.name, ["Deny"]]),
    );
    assert.equal(bindings(manifests)[0]?.spec.matchResources, undefined, "no namespace escapes the policy");
  });

  test("the agent's policy judges the agent's ServiceAccount and knows its Lease and the prefix", () => {
    assert.deepEqual(agent?.spec.matchConditions, [
      {
        name: "is-the-agent",
        expression: "request.userInfo.username == 'system:serviceaccount:meridian-system:meridian-agent'",
      },
    ]);
    assert.match(text(agent), /variables\.name == 'meridian-agent'/);
    assert.match(text(agent), /startsWith\('mw-'\)/);
  });

  test("the workspace policy judges every workspace agent of the prefix", () => {
    assert.match(
      workspace?.spec.matchConditions[0].expression,
      /\^system:serviceaccount:mw-\[a-z0-9-\]\+:meridian-workspace-agent\$/,
    );
  });

  test("the Flink policy judges every workspace's Flink ServiceAccount: HA ConfigMaps only, never Meridian's", () => {
    assert.match(
      flink?.spec.matchConditions[0].expression,
      /\^system:serviceaccount:mw-\[a-z0-9-\]\+:meridian-flink\$/,
    );
    assert.match(text(flink), /endsWith\('-config-map'\)/);
    assert.match(text(flink), /app\.kubernetes\.io\/managed-by/);
    // The workspace agent may delete Flink's HA ConfigMaps (labelled so), not write them.
    assert.match(text(workspace), /oldIsFlinkHa/);
    assert.match(text(workspace), /flink-native-kubernetes/);
  });

  test("every validation says why it refuses, as a 403", () => {
    for (const p of policies(manifests))
      for (const v of p.spec.validations) {
        assert.equal(v.reason, "Forbidden", v.expression);
        assert.match(v.messageExpression, /^'/, v.expression);
      }
  });
});

test("the release's names and the policy's prefix reach the policies", async () => {
  const manifests = await render(["strict-policy"], { fullnameOverride: "acme-agent" });
  const [agent, workspace] = policies(manifests);
  assert.equal(agent?.metadata.name, "acme-agent-confinement");
  assert.match(text(agent), /system:serviceaccount:meridian-system:acme-agent/);
  assert.match(text(agent), /startsWith\('flink-ws-'\)/);
  assert.doesNotMatch(text(agent), /'mw-'/);
  assert.match(text(workspace), /system:serviceaccount:flink-ws-/);
});

test("admissionPolicies.enabled=false renders neither policies nor bindings, and NOTES warn", async () => {
  const off = { "admissionPolicies.enabled": "false" };
  const manifests = await render(["defaults"], off);
  assert.equal(policies(manifests).length + bindings(manifests).length, 0);
  const notes = async (set: Record<string, string>) => {
    const res = await helm(["install", "r", CHART_DIR, "--dry-run=client", ...valueArgs(["defaults"], set)]);
    assert.equal(res.code, 0, res.stderr);
    return res.stdout.slice(res.stdout.indexOf("NOTES:"));
  };
  assert.doesNotMatch(await notes({}), /admissionPolicies\.enabled is false/);
  assert.match(
    await notes(off),
    /WARNINGS[\s\S]*admissionPolicies\.enabled is false: the API server does not confine/,
  );
});
