// The chart's security values, one by one, with the real Helm binary: the agent's podSecurityContext
// and securityContext, serviceAccount.annotations, and the workspace agents' pair, which travels from
// values.yaml through the agent's env and its own loadConfig() to the Deployment the agent builds in
// every workspace namespace. Defaults stay the hardened ones; contradictions fail the render.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  containerSecurityContextSchema,
  podSecurityContextSchema,
} from "../../agent/src/workspace/security-context.ts";
import { workspaceAgentDeployment } from "./agent-pod.ts";
import { agentEnv, CHART_DIR, helm, type Manifest, one, render, valueArgs } from "./helm.ts";

const HARDENED_POD = {
  runAsNonRoot: true,
  runAsUser: 10001,
  runAsGroup: 10001,
  seccompProfile: { type: "RuntimeDefault" },
};
const HARDENED_CONTAINER = {
  runAsNonRoot: true,
  runAsUser: 10001,
  runAsGroup: 10001,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

const { runAsUser: _uid, runAsGroup: _gid, ...HARDENED_CONTAINER_ANY_UID } = HARDENED_CONTAINER;

const agentPod = (m: Manifest[]) => one(m, "Deployment").spec.template.spec;

/** The workspace agent pod the agent would create, from what the chart rendered for the agent. */
const workspaceAgentPod = (m: Manifest[]) => workspaceAgentDeployment(m).spec.template.spec;

describe("by default", async () => {
  const manifests = await render(["defaults"]);

  test("the agent runs as it always did: uid 10001, read-only, no capabilities, RuntimeDefault", () => {
    assert.deepEqual(agentPod(manifests).securityContext, { ...HARDENED_POD, fsGroup: 10001 });
    assert.deepEqual(agentPod(manifests).containers[0].securityContext, HARDENED_CONTAINER);
  });

  test("the workspace agents run as they always did", () => {
    const pod = workspaceAgentPod(manifests);
    assert.deepEqual(pod.securityContext, HARDENED_POD);
    assert.deepEqual(pod.containers[0].securityContext, HARDENED_CONTAINER);
  });

  test("the ServiceAccount has no annotations", () => {
    assert.equal(one(manifests, "ServiceAccount").metadata.annotations, undefined);
  });
});

describe("OpenShift (test/helm/values/openshift.yaml): no fixed uid, gid or fsGroup anywhere", async () => {
  const manifests = await render(["openshift"]);
  test("podSecurityContext: the agent pod keeps only non-root and seccomp", () => {
    assert.deepEqual(agentPod(manifests).securityContext, {
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  test("securityContext: the agent container keeps everything but the uid and gid", () => {
    assert.deepEqual(agentPod(manifests).containers[0].securityContext, HARDENED_CONTAINER_ANY_UID);
  });

  test("workspaceAgent.podSecurityContext and .securityContext reach the workspace agent Deployment", () => {
    const pod = workspaceAgentPod(manifests);
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    assert.deepEqual(pod.containers[0].securityContext, HARDENED_CONTAINER_ANY_UID);
  });

  test("serviceAccount.annotations land on the agent's ServiceAccount", () => {
    assert.deepEqual(one(manifests, "ServiceAccount").metadata.annotations, {
      "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/meridian-agent",
    });
  });
});

describe("each value on its own", () => {
  test("podSecurityContext adds a field to the agent pod only", async () => {
    const m = await render(["defaults"], { "podSecurityContext.supplementalGroups[0]": "4000" });
    assert.deepEqual(agentPod(m).securityContext.supplementalGroups, [4000]);
    assert.equal(workspaceAgentPod(m).securityContext.supplementalGroups, undefined);
  });

  test("securityContext changes the agent container only", async () => {
    const m = await render(["defaults"], { "securityContext.runAsUser": "20000" });
    assert.equal(agentPod(m).containers[0].securityContext.runAsUser, 20000);
    assert.equal(workspaceAgentPod(m).containers[0].securityContext.runAsUser, 10001);
  });

  test("workspaceAgent.podSecurityContext changes the workspace agent pod only", async () => {
    const m = await render(["defaults"], { "workspaceAgent.podSecurityContext.fsGroup": "3000" });
    assert.equal(workspaceAgentPod(m).securityContext.fsGroup, 3000);
    assert.equal(agentPod(m).securityContext.fsGroup, 10001);
  });

  test("workspaceAgent.securityContext changes the workspace agent container only", async () => {
    const m = await render(["defaults"], { "workspaceAgent.securityContext.runAsUser": "1000710000" });
    assert.equal(workspaceAgentPod(m).containers[0].securityContext.runAsUser, 1000710000);
    assert.equal(agentPod(m).containers[0].securityContext.runAsUser, 10001);
    assert.match(agentEnv(m).MERIDIAN_WORKSPACE_AGENT_SECURITY_CONTEXT ?? "", /"runAsUser":1000710000/);
  });

  test("serviceAccount.annotations for AKS Workload Identity", async () => {
    const m = await render(["defaults"], {
      "serviceAccount.annotations.azure\\.workload\\.identity/client-id":
        "00000000-0000-0000-0000-000000000000",
    });
    assert.deepEqual(one(m, "ServiceAccount").metadata.annotations, {
      "azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000000",
    });
  });
});

describe("the chart refuses contradictory or unknown security values", () => {
  const cases: Array<{ name: string; set: Record<string, string>; message: RegExp }> = [
    {
      name: "the agent container as root while non-root is required",
      set: { "securityContext.runAsUser": "0" },
      message: /securityContext\.runAsNonRoot is true but securityContext\.runAsUser is 0/,
    },
    {
      name: "the agent pod as root while its container, inheriting the uid, requires non-root",
      set: { "podSecurityContext.runAsUser": "0", "securityContext.runAsUser": "null" },
      message: /securityContext\.runAsNonRoot is true but podSecurityContext\.runAsUser is 0/,
    },
    {
      name: "the agent pod as root while the pod requires non-root",
      set: {
        "podSecurityContext.runAsUser": "0",
        "securityContext.runAsUser": "null",
        "securityContext.runAsNonRoot": "null",
      },
      message: /podSecurityContext\.runAsNonRoot is true but podSecurityContext\.runAsUser is 0/,
    },
    {
      name: "a workspace agent container as root while non-root is required",
      set: { "workspaceAgent.securityContext.runAsUser": "0" },
      message:
        /workspaceAgent\.securityContext\.runAsNonRoot is true but workspaceAgent\.securityContext\.runAsUser is 0/,
    },
    {
      name: "a privileged workspace agent without privilege escalation",
      set: { "workspaceAgent.securityContext.privileged": "true" },
      message: /workspaceAgent\.securityContext\.privileged is true but .*allowPrivilegeEscalation is false/,
    },
    {
      name: "a privileged agent without privilege escalation",
      set: { "securityContext.privileged": "true" },
      message: /securityContext\.privileged is true but securityContext\.allowPrivilegeEscalation is false/,
    },
    {
      name: "a misspelled workspace agent field",
      set: { "workspaceAgent.podSecurityContext.runAsUsr": "1" },
      message: /at '\/workspaceAgent\/podSecurityContext': additional properties 'runAsUsr' not allowed/,
    },
    {
      name: "a negative uid",
      set: { "podSecurityContext.runAsUser": "-1" },
      message: /at '\/podSecurityContext\/runAsUser': minimum: got -1, want 0/,
    },
    {
      name: "a workspace agent pod securityContext removed altogether",
      set: { "workspaceAgent.podSecurityContext": "null" },
      message: /at '\/workspaceAgent': missing property 'podSecurityContext'/,
    },
    {
      name: "a misspelled ServiceAccount value",
      set: { "serviceAccount.annotation.a": "b" },
      message: /at '\/serviceAccount': additional properties 'annotation' not allowed/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const res = await helm(["template", "r", CHART_DIR, ...valueArgs(["defaults"], c.set)]);
      assert.notEqual(res.code, 0, `helm accepted ${JSON.stringify(c.set)}`);
      assert.match(res.stderr, c.message);
    });
  }

  test("but runs as root when told to without the non-root check", async () => {
    const set = { "securityContext.runAsUser": "0", "securityContext.runAsNonRoot": "false" };
    assert.equal(agentPod(await render(["defaults"], set)).containers[0].securityContext.runAsUser, 0);
  });
});

test("NOTES warn when a container's secure defaults are weakened", async () => {
  const notes = async (set: Record<string, string>) => {
    const res = await helm(["install", "r", CHART_DIR, "--dry-run=client", ...valueArgs(["defaults"], set)]);
    assert.equal(res.code, 0, res.stderr);
    return res.stdout.slice(res.stdout.indexOf("NOTES:"));
  };
  assert.doesNotMatch(await notes({}), /weakens the secure defaults/);
  const weakened = await notes({ "workspaceAgent.securityContext.readOnlyRootFilesystem": "false" });
  assert.match(weakened, /WARNINGS[\s\S]*workspaceAgent\.securityContext weakens the secure defaults/);
});

test("the chart and the agent accept the same security context fields", () => {
  const schema = JSON.parse(readFileSync(join(CHART_DIR, "values.schema.json"), "utf8"));
  const chartFields = (name: string) => Object.keys(schema.definitions[name].properties).sort();
  assert.deepEqual(chartFields("podSecurityContext"), Object.keys(podSecurityContextSchema.shape).sort());
  assert.deepEqual(chartFields("securityContext"), Object.keys(containerSecurityContextSchema.shape).sort());
});
