// The shared StreamClient against the real reference control plane on loopback: snapshot and
// deltas, resume, resync when resume is impossible, restart of the server, a cut mid-event, a
// stalled stream. Each test builds the agent's view from what the client delivered and compares
// it with what the control plane holds.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentStream, type StreamClient } from "@meridian/shared/controlplane/index";
import type { AgentEvent, agentEvents } from "@meridian/shared/protocol/index";
import { type Harness, Recorder, sleep, startHarness, until, WORKSPACE } from "./support.ts";

let h: Harness;
before(async () => {
  h = await startHarness({ keepAliveMs: 200 });
});
after(() => h.cleanup());

/** The desired state an agent would hold: applies snapshots and deltas as they arrive. */
function view(client: StreamClient<typeof agentEvents>) {
  const state = new Map<string, number>();
  const apply = (e: AgentEvent) => {
    if (e.type === "snapshot") {
      state.clear();
      for (const w of e.data.workspaces) state.set(w.id, w.generation);
    } else if (e.type === "workspace.upsert") state.set(e.data.workspace.id, e.data.workspace.generation);
    else state.delete(e.data.id);
  };
  client.on("snapshot", ({ event }) => apply(event));
  client.on("event", ({ event }) => apply(event));
  return state;
}

async function serverView(agentId: string): Promise<Map<string, number>> {
  return new Map((await h.cp.admin.listWorkspaces(agentId)).map((w) => [w.id, w.generation]));
}

async function newAgent(id: string, workspaces: string[] = []) {
  const { token } = await h.cp.admin.createAgent(id);
  for (const w of workspaces) await h.cp.admin.putWorkspace(id, w, WORKSPACE);
  return token;
}

function client(agentId: string, token: string, opts: Parameters<typeof agentStream>[2] = {}) {
  const c = agentStream(h.endpoint(token), agentId, { backoff: { baseMs: 50, capMs: 200 }, ...opts });
  const rec = new Recorder(c as never);
  const state = view(c);
  return { c, rec, state };
}

test("snapshot first, then deltas in id order", async (t) => {
  const token = await newAgent("snap", ["snap-a"]);
  const { c, rec, state } = client("snap", token);
  t.after(() => c.stop());
  c.start();
  const snap = await rec.waitFor((e) => e.name === "snapshot");
  assert.equal((snap.event as AgentEvent).id, (await h.cp.admin.streams()).headEventId);
  const puts = [];
  for (const w of ["snap-b", "snap-c", "snap-d"])
    puts.push(await h.cp.admin.putWorkspace("snap", w, WORKSPACE));
  await h.cp.admin.deleteWorkspace("snap", "snap-a");
  await until(() => rec.of("event").length === 4, 3000, "four deltas");
  assert.deepEqual(rec.names(), ["connected", "snapshot", "event", "event", "event", "event"]);
  assert.deepEqual(
    rec.eventIds().slice(1, 4),
    puts.map((p) => p.eventId),
  );
  assert.deepEqual(state, await serverView("snap"));
  assert.equal(c.lastEventId, rec.eventIds().at(-1));
});

test("resume with Last-Event-ID replays what was missed, without a snapshot", async (t) => {
  const token = await newAgent("resume", ["resume-a"]);
  const first = client("resume", token);
  first.c.start();
  await first.rec.waitFor((e) => e.name === "snapshot");
  await first.c.stop();
  const missed = [
    await h.cp.admin.putWorkspace("resume", "resume-b", WORKSPACE),
    await h.cp.admin.putWorkspace("resume", "resume-a", { ...WORKSPACE, displayName: "A2" }),
  ];
  const second = client("resume", token, { lastEventId: first.c.lastEventId! });
  t.after(() => second.c.stop());
  second.c.start();
  await until(() => second.rec.of("event").length === 2, 3000, "the replay");
  assert.equal(second.rec.of("snapshot").length, 0);
  assert.equal(second.rec.of("connected")[0]!.resumeFrom, first.c.lastEventId);
  assert.deepEqual(
    second.rec.eventIds(),
    missed.map((m) => m.eventId),
  );

  // and a dropped connection resumes by itself
  await h.cp.admin.faults.dropStreams({ stream: "agent", target: "resume" });
  const put = await h.cp.admin.putWorkspace("resume", "resume-c", WORKSPACE);
  await until(() => second.c.lastEventId === put.eventId, 3000, "the event after the drop");
  assert.equal(second.rec.of("snapshot").length, 0);
  assert.equal(second.rec.of("connected").length, 2);
});

test("a resume the server cannot serve (log truncated) gets a fresh snapshot", async (t) => {
  const token = await newAgent("trunc", ["trunc-a"]);
  const first = client("trunc", token);
  first.c.start();
  await first.rec.waitFor((e) => e.name === "snapshot");
  await first.c.stop();
  await h.cp.admin.putWorkspace("trunc", "trunc-b", WORKSPACE);
  await h.cp.admin.deleteWorkspace("trunc", "trunc-a");
  await h.cp.admin.faults.truncateLog();
  const second = client("trunc", token, { lastEventId: first.c.lastEventId! });
  t.after(() => second.c.stop());
  second.c.start();
  await second.rec.waitFor((e) => e.name === "snapshot");
  assert.deepEqual(second.state, await serverView("trunc"));
  assert.deepEqual([...second.state.keys()], ["trunc-b"]);
});

test("the control plane stops and restarts on the same database: reconnect, resync, nothing lost", async (t) => {
  const token = await newAgent("restart", ["restart-0"]);
  const { c, rec, state } = client("restart", token);
  t.after(() => c.stop());
  c.start();
  await rec.waitFor((e) => e.name === "snapshot");
  // a burst the server holds back (stalled), then the server goes away: the client must get it on resume
  await h.cp.admin.faults.stallStreams(60_000, { stream: "agent", target: "restart" });
  const burst = Array.from({ length: 20 }, (_, i) =>
    h.cp.admin.putWorkspace("restart", `restart-${i + 1}`, WORKSPACE),
  );
  await Promise.all(burst);
  assert.equal(state.size, 1, "nothing of the burst reached the client before the stop");
  await h.cp.stop();
  await sleep(400); // the client redials into a closed port a few times
  await h.cp.restart();
  await h.cp.admin.putWorkspace("restart", "restart-0", { ...WORKSPACE, displayName: "after restart" });
  const expected = await serverView("restart");
  await until(
    () => state.get("restart-0") === 2 && state.size === expected.size,
    5000,
    "resync after restart",
  );
  assert.deepEqual(state, expected);
  const failures = rec.of("disconnected").map((d) => d.kind);
  assert.ok(failures.length >= 2 && failures.every((k) => k === "retry"), `retries only: ${failures}`);
  assert.equal(rec.of("rejected").length, 0);
});

test("a stream cut in the middle of an event: the half is discarded, the event arrives after reconnect", async (t) => {
  const token = await newAgent("cut", ["cut-a"]);
  const { c, rec, state } = client("cut", token);
  t.after(() => c.stop());
  c.start();
  await rec.waitFor((e) => e.name === "snapshot");
  await h.cp.admin.faults.cutNextEvent({ stream: "agent", target: "cut" });
  const put = await h.cp.admin.putWorkspace("cut", "cut-b", { ...WORKSPACE, displayName: "x".repeat(150) });
  await until(() => c.lastEventId === put.eventId, 3000, "the cut event, redelivered");
  assert.equal(rec.of("disconnected").length, 1);
  assert.equal(rec.of("rejected").length, 0, "no half event was ever parsed");
  assert.deepEqual(
    rec.eventIds().filter((id) => id === put.eventId),
    [put.eventId],
    "delivered exactly once",
  );
  assert.equal(rec.of("snapshot").length, 1, "resumed, not resynced");
  assert.deepEqual(state, await serverView("cut"));
});

test("keep-alive silence (a stalled stream) trips the watchdog; the redial gets the event", async (t) => {
  const token = await newAgent("stall", ["stall-a"]);
  const { c, rec, state } = client("stall", token, { staleAfterMs: 700 });
  t.after(() => c.stop());
  c.start();
  await rec.waitFor((e) => e.name === "snapshot");
  await sleep(500); // keep-alives (every 200 ms) keep it up
  assert.equal(rec.of("disconnected").length, 0);
  await h.cp.admin.faults.stallStreams(1500, { stream: "agent", target: "stall" });
  const put = await h.cp.admin.putWorkspace("stall", "stall-b", WORKSPACE);
  const disc = await rec.waitFor((e) => e.name === "disconnected", 3000, "the watchdog");
  assert.match(String(disc.reason), /no byte and no keep-alive/);
  await until(() => c.lastEventId === put.eventId, 5000, "the event after the stall");
  assert.deepEqual(state, await serverView("stall"));
});
