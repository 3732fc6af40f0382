// A workspace's default pod template end to end (issue 12, deliverable 5): the control plane sends the
// workspace with flinkPodTemplate, the real agent passes it to the workspace agent it deploys
// (MERIDIAN_FLINK_DEFAULT_POD_TEMPLATE), and that workspace agent, run by the node simulator from its
// bundle, merges it under each deployment's own template: the JobManager pod gets the workspace's
// environment variable and annotation, the deployment's own variable of the same name wins. A default the
// local policy forbids (an init container) refuses the deployment naming the workspace's field.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { PodTemplate } from "@meridian/shared/protocol/pod-template";
import { SIMULATED } from "../workspace-agent/harness.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;

before(async () => {
  h = await startHarness({ nodes: 1 });
  const policyFile = await h.writePolicy({ podTemplates: { allowInitContainers: false } });
  await h.startAgent({ policyFile });
});
after(() => h?.stop());

// A literal, a downward-API reference and an annotation: what a team sets once for every job.
const DEFAULTS: PodTemplate = {
  metadata: { annotations: { "example.com/owner": "payments" } },
  spec: {
    containers: [
      {
        name: "flink-main-container",
        env: [
          { name: "MODE", value: "workspace" },
          { name: "OWNER_POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        ],
      },
    ],
  },
};

type Pod = {
  metadata: { annotations?: Record<string, string> };
  spec: { containers: Array<{ env?: Array<{ name: string; value?: string; valueFrom?: unknown }> }> };
};

test("a workspace's default env var and annotation reach the JobManager pod; the deployment's own value wins", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "tmpl", {
    quota: { cpu: "4", memory: "8Gi" },
    flinkPodTemplate: DEFAULTS,
  });
  await h.cp.admin.putDeployment("tmpl", "job", {
    ...SIMULATED,
    podTemplate: {
      spec: { containers: [{ name: "flink-main-container", env: [{ name: "MODE", value: "deployment" }] }] },
    },
  });
  const pod = await waitFor(
    "the JobManager pod",
    () => h.admin.getOrUndefined<Pod>("/api/v1/namespaces/mw-tmpl/pods/job-jobmanager"),
    120_000,
  );
  const env = new Map((pod.spec.containers[0]?.env ?? []).map((e) => [e.name, e]));
  assert.deepEqual(
    env.get("OWNER_POD")?.valueFrom,
    { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
    "the workspace's variable",
  );
  assert.equal(env.get("MODE")?.value, "deployment", "the deployment's own variable of the same name wins");
  assert.equal(pod.metadata.annotations?.["example.com/owner"], "payments", "the workspace's annotation");
});

test("a workspace default the local policy forbids refuses its deployments, naming the workspace's field", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "strict", {
    quota: { cpu: "4", memory: "8Gi" },
    flinkPodTemplate: { spec: { initContainers: [{ name: "setup", image: "busybox:1.36" }] } },
  });
  await h.cp.admin.putDeployment("strict", "job", SIMULATED);
  const status = await waitFor(
    "the refusal reported",
    async () => {
      const s = await h.cp.admin.getDeploymentStatus("strict", "job");
      return s?.phase === "Refused" ? s : undefined;
    },
    120_000,
  );
  const c = status.conditions.find((x) => x.type === "SpecAligned");
  assert.match(
    c?.message ?? "",
    /^workspace\.flinkPodTemplate\.spec\.initContainers\[0\]: .*allowInitContainers/,
  );
  assert.equal(
    await h.admin.getOrUndefined("/api/v1/namespaces/mw-strict/pods/job-jobmanager"),
    undefined,
    "nothing created for it",
  );
});
