// The agent survives a misbehaving control plane without touching the cluster: a restart, cut and
// dropped streams, an outage, an agent restart before the first snapshot, and a control plane that
// lost its data (orphans, deleted only after the grace period; reappearing cancels it). Ends with
// the redaction check: no token used in this file appears in any log line.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { isWriteVerb } from "@meridian/shared/kube/client";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { type Harness, holds, startHarness, waitFor } from "./harness.ts";

let h: Harness;
let agent: AgentHandle;
let policyFile: string;
const writes: string[] = [];
const GRACE_SECONDS = 6;

async function start(): Promise<AgentHandle> {
  const a = await h.startAgent({ policyFile });
  a.kube.onRequest((i) => {
    if (isWriteVerb(i.verb) && !i.path.includes("/leases")) writes.push(`${i.verb} ${i.path}`);
  });
  return a;
}

before(async () => {
  h = await startHarness();
  policyFile = await h.writePolicy({ orphanGracePeriodSeconds: GRACE_SECONDS });
  agent = await start();
  for (const id of ["one", "two", "keep", "lose"])
    await h.cp.admin.putWorkspace(h.agentId, id, { quota: { cpu: "2", memory: "4Gi" } });
  await waitFor("four Deployments", async () => {
    const list = await h.admin.request<{ items: unknown[] }>({
      method: "GET",
      path: "/apis/apps/v1/deployments",
      query: { labelSelector: "app.kubernetes.io/managed-by=meridian-agent" },
    });
    return list.items.length === 4;
  });
  await settle();
});
after(() => h?.stop());

/** Waits until the leader has a snapshot and nothing is queued, then a little more for watch echoes. */
async function settle(a = agent): Promise<void> {
  await waitFor("a snapshot", () => a.controller()?.snapshotSeen);
  await a.controller()?.idle();
  await sleep(300);
  await a.controller()?.idle();
}

const namespaces = async () =>
  (
    await h.admin.request<{ items: KubeObject[] }>({
      method: "GET",
      path: "/api/v1/namespaces",
      query: { labelSelector: "app.kubernetes.io/managed-by=meridian-agent" },
    })
  ).items.map((n) => n.metadata?.name ?? "");

async function statusOf(id: string): Promise<WorkspaceStatus | undefined> {
  return (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === id);
}

test("a control-plane restart, dropped and cut streams change nothing in the cluster", async () => {
  writes.length = 0;
  const restartedAt = new Date();
  await h.cp.restart();
  // The agent resumes from its Last-Event-ID (or gets a snapshot when the server cannot resume).
  await h.cp.admin.waitForStreams({ stream: "agent", connectedAfter: restartedAt }, 20_000);
  await settle();
  await h.cp.admin.faults.dropStreams({ stream: "agent" });
  await waitFor("the stream back", () => agent.controller()?.connected);
  await settle();
  assert.deepEqual([...writes], []);
  // A stream cut in the middle of an event: the event is not half-applied, and arrives on resume.
  await h.cp.admin.faults.cutNextEvent({ stream: "agent" });
  await h.cp.admin.putWorkspace(h.agentId, "two", { quota: { cpu: "3", memory: "4Gi" } });
  await waitFor(
    "the update after the cut",
    async () => (await statusOf("two"))?.observedGeneration === 2,
    20_000,
  );
  await settle();
  // The new quota, and the new generation recorded on the namespace.
  assert.deepEqual(writes.filter((w) => !w.includes("/events")).sort(), [
    "apply /api/v1/namespaces/mw-two",
    "apply /api/v1/namespaces/mw-two/resourcequotas/meridian-workspace-quota",
  ]);
});

test("an outage of the control plane deletes nothing and writes nothing", async () => {
  writes.length = 0;
  const before = await namespaces();
  await h.cp.stop();
  await waitFor("the agent to notice", () => !agent.controller()?.connected);
  await holds("every namespace", async () => (await namespaces()).length === before.length, 3000);
  assert.match(agent.notReadyReasons().join(), /without a control-plane stream/);
  const restartedAt = new Date();
  await h.cp.restart();
  await h.cp.admin.waitForStreams({ stream: "agent", connectedAfter: restartedAt }, 30_000);
  await settle();
  assert.deepEqual([...writes], []);
  assert.deepEqual((await namespaces()).sort(), before.sort());
});

test("a restarted agent does nothing before the first snapshot, then converges with zero writes", async () => {
  await agent.stop();
  await h.cp.stop();
  writes.length = 0;
  agent = await start();
  await waitFor("the new agent to lead", () => agent.isLeader(), 10_000);
  await waitFor("its caches", () => agent.caches.synced);
  await holds(
    "no snapshot and no writes",
    () => !agent.controller()?.snapshotSeen && writes.length === 0,
    2000,
  );
  assert.equal((await namespaces()).length, 4);
  await h.cp.restart();
  await settle();
  assert.deepEqual([...writes], []);
  await waitFor(
    "status from the new agent",
    async () => (await h.cp.admin.getAgentStatus(h.agentId))?.agent.identity === agent.identity,
  );
});

test("a control plane that lost its data orphans workspaces; reappearing cancels, the grace period deletes", async () => {
  const cp2 = await h.replaceControlPlane();
  const orphaned = await waitFor(
    "every workspace Orphaned",
    async () => {
      const s = await cp2.admin.getAgentStatus(h.agentId);
      const ws = s?.workspaces ?? [];
      return ws.length === 4 && ws.every((w) => w.phase === "Orphaned") ? ws : undefined;
    },
    20_000,
  );
  const cond = orphaned?.[0]?.conditions.find((c) => c.type === "Orphaned");
  assert.equal(cond?.status, "True");
  assert.match(cond?.message ?? "", /deleted at .* unless it reappears/);
  const ns = await h.admin.getOrUndefined<KubeObject>("/api/v1/namespaces/mw-keep");
  assert.ok(ns?.metadata?.annotations?.["meridian.dev/orphaned-since"]);
  const events = await h.admin.request<{ items: { reason: string; involvedObject: { name: string } }[] }>({
    method: "GET",
    path: "/api/v1/namespaces/default/events",
  });
  assert.ok(events.items.some((e) => e.reason === "Orphaned" && e.involvedObject.name === "mw-lose"));
  // "keep" comes back within the grace period.
  for (const id of ["keep", "one", "two"])
    await cp2.admin.putWorkspace(h.agentId, id, { quota: { cpu: "2", memory: "4Gi" } });
  await waitFor("keep adopted again", async () => {
    const n = await h.admin.getOrUndefined<KubeObject>("/api/v1/namespaces/mw-keep");
    return n && !n.metadata?.annotations?.["meridian.dev/orphaned-since"];
  });
  assert.ok(await h.admin.getOrUndefined("/api/v1/namespaces/mw-lose"), "still inside the grace period");
  await waitFor(
    "lose deleted after the grace period, and reported Deleted",
    async () => {
      const gone = !(await h.admin.getOrUndefined("/api/v1/namespaces/mw-lose"));
      const s = await statusOf("lose");
      return gone && (s === undefined || s.phase === "Deleted");
    },
    (GRACE_SECONDS + 30) * 1000,
  );
  assert.ok(await h.admin.getOrUndefined("/api/v1/namespaces/mw-keep"));
  assert.equal((await statusOf("keep"))?.conditions.find((c) => c.type === "Orphaned")?.status, "False");
});

test("no token used in this file appears in any log line", async () => {
  for (const ns of await namespaces()) {
    const s = await h.admin.getOrUndefined<{ data?: { token?: string } }>(
      `/api/v1/namespaces/${ns}/secrets/meridian-workspace-credential`,
    );
    if (s?.data?.token) h.tokens.add(Buffer.from(s.data.token, "base64").toString());
  }
  assert.ok(h.tokens.size >= 4, `collected ${h.tokens.size} tokens`);
  assert.ok(h.logs.length > 50, `collected ${h.logs.length} log lines`);
  for (const t of h.tokens)
    for (const line of h.logs) assert.ok(!line.includes(t), `a token appears in: ${line.slice(0, 200)}`);
});
