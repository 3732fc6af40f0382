// Deleting a workspace never loses Flink state (issue 12, deliverable 7), on a real API server
// through the reference control plane and the real agent. The workspace agent's part is played by
// the test: it owns the Flink ConfigMaps (managed-by=meridian-workspace-agent, with the persisted
// lifecycle state) and removes them when its delete path is done (the real workspace agent's part is
// test/workspace-agent/workspace-deletion.test.ts). What is checked here is the agent: it marks the
// credential Secret, keeps the namespace while a Flink ConfigMap is left, reports the final savepoint
// upward before the namespace goes, reports DeletionBlocked naming a blocked deployment, and deletes
// the namespace once an operator sets meridian.dev/force-delete=true on it; orphan expiry goes the
// same way.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { Condition } from "@meridian/shared/protocol/index";
import { type Harness, startHarness, waitFor } from "./harness.ts";

const GRACE_MS = 4_000;
const DELETING = "meridian.dev/workspace-deleting";
const FORCE = "meridian.dev/force-delete";
const SAVEPOINT = "s3://bucket/ws/job/savepoint-final-1";

let h: Harness;

before(async () => {
  h = await startHarness();
  const policyFile = await h.writePolicy({ orphanGracePeriodSeconds: GRACE_MS / 1000 });
  await h.startAgent({ policyFile });
});
after(() => h?.stop());

const nsPath = (id: string) => `/api/v1/namespaces/mw-${id}`;
const cmPath = (id: string) => `${nsPath(id)}/configmaps/job-flink-config`;

/** The namespace, or "deleting" once it carries a deletionTimestamp (or is gone). */
async function namespaceState(id: string): Promise<"present" | "deleting"> {
  const ns = await h.admin.getOrUndefined<KubeObject>(nsPath(id));
  return !ns || ns.metadata?.deletionTimestamp ? "deleting" : "present";
}

/** A Flink deployment's ConfigMap as the workspace agent keeps it, with its lifecycle state. */
async function putFlinkConfigMap(id: string, state: unknown): Promise<void> {
  const body = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "job-flink-config",
      namespace: `mw-${id}`,
      labels: {
        "app.kubernetes.io/part-of": "meridian",
        "app.kubernetes.io/managed-by": "meridian-workspace-agent",
        "meridian.dev/workspace": id,
        "meridian.dev/deployment": "job",
      },
      annotations: { "meridian.dev/lifecycle-state": JSON.stringify(state) },
    },
  };
  await h.admin.request({
    method: "PATCH",
    path: cmPath(id),
    query: { fieldManager: "meridian-workspace-agent", force: true },
    contentType: "application/apply-patch+yaml",
    body,
  });
}

async function deletionBlocked(id: string): Promise<Condition | undefined> {
  const s = await h.cp.admin.getAgentStatus(h.agentId);
  return s?.workspaces.find((w) => w.id === id)?.conditions.find((c) => c.type === "DeletionBlocked");
}

async function createWithDeployment(id: string, state: unknown): Promise<void> {
  await h.cp.admin.putWorkspace(h.agentId, id, { quota: { cpu: "1", memory: "1Gi" } });
  await waitFor(`namespace mw-${id}`, () => h.admin.getOrUndefined<KubeObject>(nsPath(id)));
  await putFlinkConfigMap(id, state);
}

async function awaitDeletingMark(id: string): Promise<void> {
  await waitFor("the workspace-deleting mark on the credential Secret", async () => {
    const s = await h.admin.getOrUndefined<KubeObject>(`${nsPath(id)}/secrets/meridian-workspace-credential`);
    return s?.metadata?.annotations?.[DELETING];
  });
}

test("a deleted workspace's namespace stays until its Flink deployment is gone, and its final savepoint is reported first", async () => {
  await createWithDeployment("keep", { op: { kind: "delete", step: "savepoint" }, savepoints: [] });
  await h.cp.admin.deleteWorkspace(h.agentId, "keep");
  await awaitDeletingMark("keep");
  const draining = await waitFor("Draining reported", async () => {
    const c = await deletionBlocked("keep");
    return c?.reason === "Draining" ? c : undefined;
  });
  assert.match(draining.message, /job \(savepoint\)/);
  // The workspace agent took the final savepoint and is removing the pods.
  await putFlinkConfigMap("keep", {
    op: { kind: "delete", step: "removePods", savepoint: SAVEPOINT },
    savepoints: [{ location: SAVEPOINT }],
  });
  const reported = await waitFor("the final savepoint reported upward", async () => {
    const c = await deletionBlocked("keep");
    return c?.message.includes(`job: ${SAVEPOINT}`) ? c : undefined;
  });
  assert.equal(reported.status, "False");
  assert.equal(await namespaceState("keep"), "present", "the namespace waits for the deployment");
  await sleep(3000);
  assert.equal(await namespaceState("keep"), "present", "still waiting while the ConfigMap is there");
  // The workspace agent's delete path ends by deleting the ConfigMap: then the namespace goes.
  await h.admin.request({ method: "DELETE", path: cmPath("keep") });
  await waitFor("the namespace deleted", async () => (await namespaceState("keep")) === "deleting");
});

test("a final savepoint recorded and its ConfigMap deleted between two looks is still reported, in finalSavepoints", async () => {
  await createWithDeployment("quick", { op: { kind: "delete", step: "savepoint" }, savepoints: [] });
  await h.cp.admin.deleteWorkspace(h.agentId, "quick");
  await waitFor("Draining reported", async () => (await deletionBlocked("quick"))?.reason === "Draining");
  // Faster than the agent's 2 s look: the final savepoint recorded, then the ConfigMap deleted.
  await putFlinkConfigMap("quick", {
    op: { kind: "delete", step: "removeAll", savepoint: `${SAVEPOINT}-quick` },
    savepoints: [],
  });
  await h.admin.request({ method: "DELETE", path: cmPath("quick") });
  const status = await waitFor("finalSavepoints reported", async () => {
    const s = await h.cp.admin.getAgentStatus(h.agentId);
    const w = s?.workspaces.find((x) => x.id === "quick");
    return w?.finalSavepoints?.length ? w : undefined;
  });
  assert.deepEqual(status.finalSavepoints, [{ deployment: "job", location: `${SAVEPOINT}-quick` }]);
  assert.match(
    status.conditions.find((c) => c.type === "DeletionBlocked")?.message ?? "",
    new RegExp(`job: ${SAVEPOINT}-quick`),
  );
});

test("a deployment that cannot be stopped safely blocks the deletion with DeletionBlocked; the force annotation ends it", async () => {
  await createWithDeployment("stuck", {
    op: {
      kind: "delete",
      step: "savepoint",
      blocked: { reason: "SavepointFailed", message: "the savepoint failed: storage unreachable" },
    },
    savepoints: [{ location: "s3://bucket/ws/job/savepoint-old" }],
  });
  await h.cp.admin.deleteWorkspace(h.agentId, "stuck");
  const blocked = await waitFor("DeletionBlocked reported", async () => {
    const c = await deletionBlocked("stuck");
    return c?.status === "True" ? c : undefined;
  });
  assert.equal(blocked.reason, "DeploymentBlocked");
  assert.match(blocked.message, /deployment job: SavepointFailed: the savepoint failed: storage unreachable/);
  assert.match(blocked.message, /kubectl annotate namespace mw-stuck meridian\.dev\/force-delete=true/);
  assert.match(
    blocked.message,
    /job: s3:\/\/bucket\/ws\/job\/savepoint-old/,
    "the newest restorable state is named",
  );
  await sleep(3000);
  assert.equal(await namespaceState("stuck"), "present", "blocked: the namespace stays");
  await h.admin.request({
    method: "PATCH",
    path: nsPath("stuck"),
    contentType: "application/merge-patch+json",
    body: { metadata: { annotations: { [FORCE]: "true" } } },
  });
  await waitFor("the forced namespace deleted", async () => (await namespaceState("stuck")) === "deleting");
});

test("orphan expiry drains the Flink deployments first too", async () => {
  await createWithDeployment("lost", { op: { kind: "savepoint", step: "savepoint" }, savepoints: [] });
  await waitFor("the agent idle", () => h.cp.admin.getAgentStatus(h.agentId));
  // A control plane that lost its data: "lost" is missing from its snapshot and becomes an orphan.
  await h.replaceControlPlane();
  await awaitDeletingMark("lost");
  await sleep(3000);
  assert.equal(await namespaceState("lost"), "present", "the orphan's namespace waits for the deployment");
  await h.admin.request({ method: "DELETE", path: cmPath("lost") });
  await waitFor("the orphan's namespace deleted", async () => (await namespaceState("lost")) === "deleting");
});
