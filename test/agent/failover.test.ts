// Two agent replicas as real processes (node agent/src/main.ts run), each under the agent's own
// ServiceAccount: exactly one leads and holds the stream; SIGKILL the leader and the other takes
// over within the lease duration; a leader that sees another holder on the Lease stops at once.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { ChildAgent, Harness } from "./harness.ts";
import { holds, startHarness, waitFor } from "./harness.ts";

const LEASE_MS = 3000;
const RETRY_MS = 300;
const timing = {
  leaseDurationMs: String(LEASE_MS),
  renewDeadlineMs: "2000",
  retryPeriodMs: String(RETRY_MS),
};
const LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/meridian-system/leases/meridian-agent";

let h: Harness;
let a: ChildAgent;
let b: ChildAgent;

before(async () => {
  h = await startHarness();
  a = h.spawnAgent({ identity: "replica-a", ...timing });
  b = h.spawnAgent({ identity: "replica-b", ...timing });
});
after(() => h?.stop());

interface Lease {
  metadata: { resourceVersion: string };
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}
const lease = () => h.admin.getOrUndefined<Lease & KubeObject>(LEASE_PATH);
const holder = async () => (await lease())?.spec.holderIdentity;
const agentStreams = async () => (await h.cp.admin.streams()).streams.filter((s) => s.stream === "agent");
const deployment = (id: string) =>
  h.admin.getOrUndefined(`/apis/apps/v1/namespaces/mw-${id}/deployments/meridian-workspace-agent`);
const ready = async (c: ChildAgent) =>
  (await fetch(`http://${c.healthAddr}/readyz`).catch(() => undefined))?.status;

test("exactly one replica leads and holds the stream; killing it hands over within the lease duration", async () => {
  const first = await waitFor(
    "a leader",
    async () => {
      const id = await holder();
      return id === "replica-a" || id === "replica-b" ? id : undefined;
    },
    30_000,
  );
  await waitFor("the leader's stream", async () => (await agentStreams()).length === 1, 15_000);
  await holds(
    "exactly one stream and one holder",
    async () => (await agentStreams()).length === 1 && (await holder()) === first,
    2000,
  );
  await h.cp.admin.putWorkspace(h.agentId, "w1", { quota: { cpu: "1", memory: "1Gi" } });
  await waitFor("w1's Deployment", () => deployment("w1"));
  const [leader, standby] = first === "replica-a" ? [a, b] : [b, a];
  await waitFor(
    "both replicas ready (leader connected, standby warm)",
    async () => (await ready(leader)) === 200 && (await ready(standby)) === 200,
  );

  const killedAt = Date.now();
  leader.proc.kill("SIGKILL");
  const next = standby === a ? "replica-a" : "replica-b";
  await waitFor("the standby to take the Lease", async () => (await holder()) === next, LEASE_MS * 3);
  const tookMs = Date.now() - killedAt;
  // The last renewal was at most a retry period before the kill; the standby wakes at its expiry. The
  // 2 s of slack is for observing it (polling the Lease on a loaded two-core machine), not for the agent.
  assert.ok(tookMs <= LEASE_MS + RETRY_MS + 2000, `takeover took ${tookMs} ms (lease ${LEASE_MS} ms)`);
  await waitFor("the new leader's stream", async () => (await agentStreams()).length === 1, 10_000);
  await h.cp.admin.putWorkspace(h.agentId, "w2", { quota: { cpu: "1", memory: "1Gi" } });
  await waitFor("w2 reconciled by the new leader", () => deployment("w2"), 10_000);
  const status = await waitFor("status from the new leader", async () => {
    const s = await h.cp.admin.getAgentStatus(h.agentId);
    return s?.agent.leader === next ? s : undefined;
  });
  assert.deepEqual(status?.workspaces.map((w) => w.id).sort(), ["w1", "w2"]);
  console.log(`# failover: the standby held the Lease ${tookMs} ms after SIGKILL (lease ${LEASE_MS} ms)`);
});

test("a leader that finds another holder on the Lease stops acting at once", async () => {
  const current = await holder();
  const survivor = current === "replica-a" ? a : b;
  // The leader renews concurrently; on 409 read the Lease again and retry, as any writer of a Lease must.
  let written: { spec?: { holderIdentity?: string } } | undefined;
  for (let attempt = 0; attempt < 10 && !written; attempt++) {
    const l = await lease();
    assert.ok(l);
    const now = new Date()
      .toISOString()
      .replace("Z", "000Z")
      .replace(/\.(\d{3})000000Z$/, ".$1000Z");
    try {
      written = await h.admin.request({
        method: "PUT",
        path: LEASE_PATH,
        body: {
          ...l,
          spec: { ...l.spec, holderIdentity: "intruder", renewTime: now, leaseDurationSeconds: 3 },
        },
      });
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }
  assert.equal(written?.spec?.holderIdentity, "intruder", "the intruder's write landed");
  // Bounded by the wait itself: two retry periods plus slack for a loaded machine.
  await waitFor(
    "the leader to drop its stream",
    async () => (await agentStreams()).length === 0,
    RETRY_MS * 2 + 5000,
  );
  // The log line may trail the stream's end by a write buffer.
  await waitFor(
    "the loss in the leader's log",
    () => survivor.lines.some((l) => l.includes("lost leadership")),
    3000,
  );
  // The intruder never renews: once its Lease expires, the replica leads again.
  await waitFor("the replica to lead again", async () => (await holder()) === current, LEASE_MS * 4);
  await waitFor("its stream", async () => (await agentStreams()).length === 1, 10_000);
});
