// Fault injection through POST /admin/faults: each fault does what docs/control-plane.md says.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  errorBody,
  parseEvent,
  paths,
  workspaceCredential,
  workspaceEvents,
} from "@meridian/shared/protocol/index";
import {
  agentWithWorkspace,
  call,
  SseReader,
  sleep,
  startTestServer,
  type TestServer,
  WORKSPACE,
} from "./test-support.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer({ keepAliveMs: 50 });
});
after(() => server.cleanup());

async function workspaceToken(agentId: string, agentToken: string, workspaceId: string): Promise<string> {
  const res = await call(server.cp, "POST", paths.workspaceCredential(agentId, workspaceId), {
    token: agentToken,
  });
  return workspaceCredential.parse(await res.json()).token;
}

test("drop-streams destroys the matching open streams at once", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-drop", "drop-a");
  const agent = await SseReader.open(cp, paths.agentStream("agent-drop"), token);
  const ws = await SseReader.open(
    cp,
    paths.workspaceStream("drop-a"),
    await workspaceToken("agent-drop", token, "drop-a"),
  );
  await agent.next();
  await ws.next();

  assert.deepEqual(await cp.admin.faults.dropStreams({ stream: "workspace", target: "drop-a" }), {
    dropped: 1,
  });
  assert.doesNotMatch(
    (await ws.ended).message,
    /ended the stream/,
    "a drop is an abrupt end, not a clean one",
  );
  assert.equal((await cp.admin.streams()).streams.filter((s) => s.target === "agent-drop").length, 1);

  const dropped = await cp.admin.faults.dropStreams();
  assert.ok((dropped.dropped as number) >= 1);
  await agent.ended;
  await cp.admin.putWorkspace("agent-drop", "drop-b", WORKSPACE);
  assert.equal(agent.pending(), 0);
});

test("cut-next-event writes half an event then closes; a resume replays the cut event", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-cut", "cut-a");
  const s = await SseReader.open(cp, paths.agentStream("agent-cut"), token);
  const snap = await s.next();
  await cp.admin.faults.cutNextEvent({ stream: "agent", target: "agent-cut" });
  const put = await cp.admin.putWorkspace("agent-cut", "cut-b", WORKSPACE);
  await s.ended;
  assert.equal(s.pending(), 0, "no complete event arrived");
  assert.ok(s.partial().startsWith(`id: ${put.eventId}\nevent: workspace.upsert`), `partial: ${s.partial()}`);
  assert.ok(!s.partial().endsWith("\n\n"));

  const resumed = await SseReader.open(cp, paths.agentStream("agent-cut"), token, snap.id);
  try {
    const m = await resumed.next();
    assert.deepEqual([m.event, m.id], ["workspace.upsert", put.eventId]);
  } finally {
    resumed.close();
  }
});

test("fail-requests answers the next N protocol requests with the status; admin is unaffected", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-fail", "fail-a");
  await cp.admin.faults.failRequests(2, 503);
  const first = await call(cp, "GET", paths.agentStream("agent-fail"), { token });
  assert.equal(first.status, 503);
  assert.equal(errorBody.parse(await first.json()).error.code, "unavailable");
  await cp.admin.getAgent("agent-fail");
  const second = await call(cp, "POST", paths.agentStatus("agent-fail"), { token, body: {} });
  assert.equal(second.status, 503);
  await second.body?.cancel();
  const s = await SseReader.open(cp, paths.agentStream("agent-fail"), token);
  assert.equal((await s.next()).event, "snapshot");
  s.close();

  await cp.admin.faults.failRequests(5, 502);
  await cp.admin.faults.clear();
  const after = await call(cp, "POST", paths.agentStatus("agent-fail"), { token, body: {} });
  assert.equal(after.status, 400, "after clear, requests are served (this one is merely invalid)");
  await after.body?.cancel();
});

test("stall-streams sends nothing for N ms without closing, then delivers what was held", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-stall", "stall-a");
  const s = await SseReader.open(cp, paths.agentStream("agent-stall"), token);
  try {
    await s.next();
    await cp.admin.faults.stallStreams(500, { target: "agent-stall" });
    await sleep(60);
    const comments = s.comments;
    const put = await cp.admin.putWorkspace("agent-stall", "stall-b", WORKSPACE);
    await sleep(250);
    assert.equal(s.comments, comments, "no keep-alive during a stall");
    assert.equal(s.pending(), 0, "no event during a stall");
    assert.equal((await cp.admin.streams()).streams.filter((x) => x.target === "agent-stall").length, 1);
    const m = await s.next(2000);
    assert.equal(m.id, put.eventId);
    await sleep(150);
    assert.ok(s.comments > comments, "keep-alives resume after the stall");
  } finally {
    s.close();
  }
});

test("truncate-log makes every earlier id unresumable: a fresh snapshot instead", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-trunc", "trunc-a");
  const first = await SseReader.open(cp, paths.agentStream("agent-trunc"), token);
  const snap = await first.next();
  const put = await cp.admin.putWorkspace("agent-trunc", "trunc-b", WORKSPACE);
  assert.equal((await first.next()).id, put.eventId);
  first.close();

  await cp.admin.faults.truncateLog();
  for (const lastEventId of [snap.id!, put.eventId!]) {
    const s = await SseReader.open(cp, paths.agentStream("agent-trunc"), token, lastEventId);
    const m = await s.next();
    s.close();
    assert.equal(m.event, "snapshot", `resume from ${lastEventId} after truncate-log`);
    assert.match(m.data, /trunc-b/);
    assert.ok(Number(m.id) > Number(put.eventId));
  }

  const fresh = await SseReader.open(cp, paths.agentStream("agent-trunc"), token);
  const freshSnap = await fresh.next();
  fresh.close();
  const resumed = await SseReader.open(cp, paths.agentStream("agent-trunc"), token, freshSnap.id);
  try {
    const c = await cp.admin.putWorkspace("agent-trunc", "trunc-c", WORKSPACE);
    const m = await resumed.next();
    assert.deepEqual(
      [m.event, m.id],
      ["workspace.upsert", c.eventId],
      "ids issued after the truncation resume",
    );
  } finally {
    resumed.close();
  }
});

test("inject-event sends a raw event with the next sequence id to the matching streams", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-inj", "inj-a");
  const s = await SseReader.open(
    cp,
    paths.workspaceStream("inj-a"),
    await workspaceToken("agent-inj", token, "inj-a"),
  );
  try {
    await s.next();
    const head = Number((await cp.admin.streams()).headEventId);
    const answer = await cp.admin.faults.injectEvent(
      "workspace",
      "inj-a",
      "deployment.upsert",
      '{"deployment": {no json',
    );
    assert.deepEqual(answer, { eventId: String(head + 1), delivered: 1 });
    const bad = await s.next();
    assert.deepEqual(bad, {
      id: String(head + 1),
      event: "deployment.upsert",
      data: '{"deployment": {no json',
    });
    assert.equal(parseEvent(workspaceEvents, bad.event, bad.id, bad.data).ok, false);

    await cp.admin.faults.injectEvent("workspace", "inj-a", "made.up", "line one\nline two");
    assert.equal((await s.next()).data, "line one\nline two");

    const real = await cp.admin.putWorkspace("agent-inj", "inj-b", WORKSPACE);
    assert.ok(Number(real.eventId) > head + 2, "real changes never reuse an injected id");
  } finally {
    s.close();
  }
});
