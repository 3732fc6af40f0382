// The Kubernetes API server restarts under a running agent (fault campaign finding 1): every watch
// breaks, the resumed ones get 410 Gone from the new API server's fresh watch cache and re-list, the
// leader loses its Lease and takes it again, and — the API server's graceful stop waits up to 60 s
// for the open watches to end — the node lifecycle controller misses the node's heartbeats for its
// 50 s grace period and marks the node's pods NotReady (the workspace agent's Deployment drops to 0 ready replicas). The
// workspace must be reported Ready again by the new leadership session — not Pending for good —
// without a write to the cluster, and within a bound far below the resync period (10 min here). It
// failed before the node simulator, like a kubelet, sent a pod's status again when someone else had
// changed it (test/cluster/node-simulator/pod-status.ts).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isWriteVerb } from "@meridian/shared/kube/client";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../agent/src/agent.ts";
import type { ControlPlaneConnection } from "../../agent/src/connection.ts";
import { ClusterComponents } from "../faults/components.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

let h: Harness;
let agent: AgentHandle;
let components: ClusterComponents;
const ID = "restart";

before(async () => {
  h = await startHarness({ nodes: 1 });
  components = new ClusterComponents(h.cluster);
  agent = await h.startAgent();
});
after(async () => {
  await agent?.stop();
  await components?.stop();
  await h?.stop();
});

const statusOf = async (): Promise<WorkspaceStatus | undefined> =>
  (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === ID);

/** The workspace as the control plane last heard it, once the agent reported after `since`. */
async function reportedAfter(since: number): Promise<WorkspaceStatus | undefined> {
  const record = await h.cp.admin.getAgent(h.agentId);
  if (Date.parse(record.lastHeartbeatAt ?? "") <= since) return undefined;
  return record.status?.workspaces.find((w) => w.id === ID);
}

test("after an API server restart the workspace is reported Ready again, by a new leadership session", async () => {
  await h.cp.admin.putWorkspace(h.agentId, ID, { quota: { cpu: "4", memory: "8Gi" } });
  await waitFor("Ready before the restart", async () => (await statusOf())?.phase === "Ready", 120_000);
  const session: ControlPlaneConnection | undefined = agent.controller();
  assert.ok(session, "the agent leads");
  const lists = agent.caches.lists;
  const writes: string[] = [];
  agent.kube.onRequest((i) => {
    if (isWriteVerb(i.verb) && !i.path.includes("/leases") && !i.path.includes("/events") && i.status < 300)
      writes.push(`${i.verb} ${i.path}`);
  });

  // SIGTERM: the API server drains and closes every watch; the agent cannot renew its Lease meanwhile.
  await components.kill("kube-apiserver", "SIGTERM");
  await components.start("kube-apiserver");
  const back = Date.now();

  // The Lease was lost (renew deadline 2 s) and taken again: a new session, whose first status is
  // built before its first reconcile — the state finding 1 left reported for good.
  await waitFor("a new leadership session", () => agent.isLeader() && agent.controller() !== session, 60_000);
  // Every cache re-listed (the new API server answers the old resourceVersions with 410 Gone).
  await waitFor("the caches re-listed", () => agent.caches.lists > lists && agent.caches.current, 60_000);
  const ready = await waitFor(
    "the workspace reported Ready after the restart",
    async () => {
      const s = await reportedAfter(back);
      return s?.phase === "Ready" ? s : undefined;
    },
    60_000,
  );
  assert.equal(ready.conditions.find((c) => c.type === "Ready")?.status, "True");
  assert.equal(ready.conditions.find((c) => c.type === "SpecAligned")?.status, "True");
  // Nothing in the cluster was rewritten: the restart changed nothing the agent owns.
  assert.deepEqual(
    writes.filter((w) => !w.includes("meridian-workspace-credential")),
    [],
  );
});
