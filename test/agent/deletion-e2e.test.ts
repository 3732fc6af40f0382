// Deleting a workspace end to end (issue 12, deliverable 7): the real agent creates the workspace, the
// node simulator runs the real workspace agent it deploys, and that workspace agent runs a SAVEPOINT
// Flink deployment (simulated pods: no JVM). Deleted through the control plane, the workspace's
// namespace is not deleted while the deployment's ConfigMap exists: the workspace agent, told by the
// mark on its credential Secret, takes the deployment through its own delete path first (the job never
// ran, so its state is still its restore point: nothing to savepoint), and the agent reports the
// drained deletion upward with the final state kept.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import { SIMULATED } from "../workspace-agent/harness.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;

before(async () => {
  h = await startHarness({ nodes: 1 });
  await h.startAgent();
});
after(() => h?.stop());

const statusOf = async (id: string): Promise<WorkspaceStatus | undefined> =>
  (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === id);

test("a deleted workspace's Flink deployment is deleted by its workspace agent before the namespace", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "gone", { quota: { cpu: "4", memory: "8Gi" } });
  await waitFor(
    "the workspace Ready",
    async () => (await statusOf("gone"))?.conditions.find((c) => c.type === "Ready")?.status === "True",
    90_000,
  );
  await h.cp.admin.putDeployment("gone", "job", { ...SIMULATED, upgradeMode: "SAVEPOINT" });
  const cmPath = "/api/v1/namespaces/mw-gone/configmaps/job-flink-config";
  await waitFor("the deployment's ConfigMap", () => h.admin.getOrUndefined<KubeObject>(cmPath), 60_000);

  await h.cp.admin.deleteWorkspace(h.agentId, "gone");
  let drainedMessage: string | undefined;
  // When the namespace is first seen being deleted, was the Flink deployment's ConfigMap still there?
  // (The namespace controller removes what is left only after the namespace is being deleted.)
  let configMapLeft: boolean | undefined;
  await waitFor(
    "the namespace deleted",
    async () => {
      const ns = await h.admin.getOrUndefined<KubeObject>("/api/v1/namespaces/mw-gone");
      const c = (await statusOf("gone"))?.conditions.find((x) => x.type === "DeletionBlocked");
      if (c?.reason === "Drained") drainedMessage = c.message;
      if (ns && !ns.metadata?.deletionTimestamp) return false;
      const cm = await h.admin.getOrUndefined<KubeObject>(cmPath);
      configMapLeft ??= cm !== undefined && cm.metadata?.deletionTimestamp === undefined;
      return true;
    },
    90_000,
  );
  assert.equal(
    configMapLeft,
    false,
    "the namespace went while the Flink deployment's ConfigMap was still there",
  );
  await waitFor("Drained reported", async () => {
    const c = (await statusOf("gone"))?.conditions.find((x) => x.type === "DeletionBlocked");
    if (c?.reason === "Drained") drainedMessage = c.message;
    return drainedMessage;
  });
  assert.match(drainedMessage ?? "", /final state kept: job: /);
});
