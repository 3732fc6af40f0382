// The StatusReporter against the real reference control plane, counting the status requests the
// server itself logged: the latest status wins, bursts coalesce, a heartbeat re-sends an unchanged
// status, never more than one request in flight, failures retry the latest.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentStatusReporter } from "@meridian/shared/controlplane/index";
import { type AgentStatus, paths } from "@meridian/shared/protocol/index";
import { type Harness, sleep, startDelayProxy, startHarness, until } from "./support.ts";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.cleanup());

const status = (agentId: string, n: number): AgentStatus => ({
  agent: {
    id: agentId,
    version: "0.1.0",
    identity: "pod-1",
    leader: "pod-1",
    kubernetesVersion: "v1.35.4",
    startedAt: "2026-01-01T00:00:00.000Z",
  },
  lastEventId: String(n),
  workspaces: [],
  rejectedEvents: { count: 0 },
});

const posts = (agentId: string) => h.requests.filter((r) => r.url === paths.agentStatus(agentId));

test("a burst of 100 changes is one POST carrying the latest", async (t) => {
  const { token } = await h.cp.admin.createAgent("rep-burst");
  const r = agentStatusReporter(h.endpoint(token), "rep-burst", { debounceMs: 100 });
  t.after(() => r.stop());
  for (let n = 1; n <= 100; n++) r.set(status("rep-burst", n));
  await until(() => posts("rep-burst").length >= 1, 3000, "the POST");
  await sleep(300);
  assert.equal(posts("rep-burst").length, 1);
  assert.equal(posts("rep-burst")[0]!.status, 204);
  assert.equal((await h.cp.admin.getAgentStatus("rep-burst"))?.lastEventId, "100");
});

test("a heartbeat re-sends the unchanged status", async (t) => {
  const { token } = await h.cp.admin.createAgent("rep-beat");
  const r = agentStatusReporter(h.endpoint(token), "rep-beat", { debounceMs: 10, heartbeatMs: 250 });
  const heartbeats: boolean[] = [];
  r.on("sent", (e) => heartbeats.push(e.heartbeat));
  t.after(() => r.stop());
  r.set(status("rep-beat", 1));
  await sleep(1100);
  const n = posts("rep-beat").length;
  assert.ok(n >= 4 && n <= 6, `1 send + ~4 heartbeats in 1.1 s, saw ${n}`);
  assert.deepEqual(heartbeats.slice(0, 3), [false, true, true]);
  assert.equal((await h.cp.admin.getAgentStatus("rep-beat"))?.lastEventId, "1");
});

test("never more than one request in flight, however fast status changes", async (t) => {
  const { token } = await h.cp.admin.createAgent("rep-one");
  const proxy = await startDelayProxy(h.cp.url, 150);
  t.after(() => proxy.close());
  const endpoint = { ...h.endpoint(token), baseUrl: proxy.url };
  const r = agentStatusReporter(endpoint, "rep-one", { debounceMs: 20 });
  t.after(() => r.stop());
  for (let n = 1; n <= 50; n++) {
    r.set(status("rep-one", n));
    await sleep(20);
  }
  await until(
    async () => (await h.cp.admin.getAgentStatus("rep-one"))?.lastEventId === "50",
    3000,
    "the latest",
  );
  assert.equal(proxy.stats.maxInflight, 1);
  const n = posts("rep-one").length;
  assert.ok(n >= 3 && n <= 10, `~1 s of changes at ≥170 ms per request → a handful of POSTs, saw ${n}`);
});

test("failed POSTs are retried with backoff and only the latest is sent", async (t) => {
  const { token } = await h.cp.admin.createAgent("rep-fail");
  const r = agentStatusReporter(h.endpoint(token), "rep-fail", {
    debounceMs: 10,
    backoff: { baseMs: 100, capMs: 100, floorMs: 100 },
  });
  const failed: string[] = [];
  r.on("failed", (e) => failed.push(e.kind));
  t.after(() => r.stop());
  await h.cp.admin.faults.failRequests(2, 503);
  r.set(status("rep-fail", 1));
  await until(() => failed.length === 1, 2000, "the first failure");
  r.set(status("rep-fail", 2));
  r.set(status("rep-fail", 3));
  await until(
    async () => (await h.cp.admin.getAgentStatus("rep-fail"))?.lastEventId === "3",
    3000,
    "the latest",
  );
  assert.deepEqual(failed, ["retry", "retry"]);
  assert.deepEqual(
    posts("rep-fail").map((p) => p.status),
    [503, 503, 204],
    "two injected failures, then one successful POST of the latest — no queue of stale ones",
  );
});

test("stop({ flush: true }) delivers the last status before shutdown", async (t) => {
  const { token } = await h.cp.admin.createAgent("rep-flush");
  const r = agentStatusReporter(h.endpoint(token), "rep-flush", { debounceMs: 60_000 });
  t.after(() => r.stop());
  r.set(status("rep-flush", 42));
  await r.stop({ flush: true });
  assert.equal((await h.cp.admin.getAgentStatus("rep-flush"))?.lastEventId, "42");
});
