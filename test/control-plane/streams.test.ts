// The two SSE streams: snapshot then live deltas, ids from one increasing sequence, replay after
// Last-Event-ID, fresh snapshot when a resume is impossible, keep-alives.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  agentEvents,
  PROTOCOL_HEADER,
  parseEvent,
  paths,
  workspaceCredential,
  workspaceEvents,
} from "@meridian/shared/protocol/index";
import {
  agentWithWorkspace,
  call,
  DEPLOYMENT,
  type SseMessage,
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

function validAgentEvent(m: SseMessage) {
  const r = parseEvent(agentEvents, m.event, m.id, m.data);
  assert.ok(r.ok, `agent event ${m.event} must validate: ${!r.ok ? r.error : ""}`);
  return r.event;
}
function validWorkspaceEvent(m: SseMessage) {
  const r = parseEvent(workspaceEvents, m.event, m.id, m.data);
  assert.ok(r.ok, `workspace event ${m.event} must validate: ${!r.ok ? r.error : ""}`);
  return r.event;
}

async function workspaceToken(agentId: string, agentToken: string, workspaceId: string): Promise<string> {
  const res = await call(server.cp, "POST", paths.workspaceCredential(agentId, workspaceId), {
    token: agentToken,
  });
  assert.equal(res.status, 200);
  return workspaceCredential.parse(await res.json()).token;
}

test("agent stream: snapshot with the head id, then deltas with increasing ids", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-snap", "snap-a");
  const head = (await cp.admin.streams()).headEventId;
  const stream = await SseReader.open(cp, paths.agentStream("agent-snap"), token);
  try {
    assert.equal(stream.response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(stream.response.headers.get("cache-control"), "no-cache");
    assert.equal(stream.response.headers.get("x-accel-buffering"), "no");
    assert.equal(stream.response.headers.get(PROTOCOL_HEADER), "1");

    const snap = validAgentEvent(await stream.next());
    assert.equal(snap.type, "snapshot");
    assert.equal(snap.id, head);
    if (snap.type !== "snapshot") throw new Error("narrowing");
    assert.deepEqual(
      snap.data.workspaces.map((w) => [w.id, w.generation]),
      [["snap-a", 1]],
    );

    const put = await cp.admin.putWorkspace("agent-snap", "snap-b", { ...WORKSPACE, displayName: "B" });
    const upsert = validAgentEvent(await stream.next());
    assert.equal(upsert.type, "workspace.upsert");
    assert.equal(upsert.id, put.eventId);
    assert.ok(Number(upsert.id) > Number(snap.id));

    const changed = await cp.admin.putWorkspace("agent-snap", "snap-b", { ...WORKSPACE, displayName: "B2" });
    assert.equal(changed.workspace.generation, 2);
    const upsert2 = validAgentEvent(await stream.next());
    assert.ok(Number(upsert2.id) > Number(upsert.id));
    if (upsert2.type !== "workspace.upsert") throw new Error("narrowing");
    assert.equal(upsert2.data.workspace.generation, 2);

    await cp.admin.deleteWorkspace("agent-snap", "snap-b");
    const del = validAgentEvent(await stream.next());
    assert.equal(del.type, "workspace.delete");
    assert.deepEqual(del.data, { id: "snap-b" });
    assert.ok(Number(del.id) > Number(upsert2.id));
  } finally {
    stream.close();
  }
});

test("an identical PUT appends nothing and sends nothing", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-same", "same-a");
  await cp.admin.putDeployment("same-a", "orders", { ...DEPLOYMENT, flinkConfiguration: { a: "1", b: "2" } });
  const stream = await SseReader.open(cp, paths.agentStream("agent-same"), token);
  try {
    await stream.next();
    const headBefore = (await cp.admin.streams()).headEventId;
    const again = await cp.admin.putWorkspace("agent-same", "same-a", WORKSPACE);
    assert.equal(again.changed, false);
    assert.equal(again.eventId, null);
    assert.equal(again.workspace.generation, 1);
    // Same deployment with its record keys in another order and a default spelled out.
    const dep = await cp.admin.putDeployment("same-a", "orders", {
      ...DEPLOYMENT,
      upgradeMode: "SAVEPOINT",
      flinkConfiguration: { b: "2", a: "1" },
    });
    assert.equal(dep.changed, false);
    assert.equal(dep.deployment.generation, 1);
    assert.equal((await cp.admin.streams()).headEventId, headBefore);
    await sleep(150);
    assert.equal(stream.pending(), 0);
  } finally {
    stream.close();
  }
});

test("workspace stream: snapshot of its deployments; deltas reach only that workspace", async () => {
  const { cp } = server;
  const agentToken = await agentWithWorkspace(cp, "agent-ws", "ws-one");
  await cp.admin.putWorkspace("agent-ws", "ws-two", WORKSPACE);
  await cp.admin.putDeployment("ws-one", "orders", DEPLOYMENT);
  const one = await SseReader.open(
    cp,
    paths.workspaceStream("ws-one"),
    await workspaceToken("agent-ws", agentToken, "ws-one"),
  );
  const two = await SseReader.open(
    cp,
    paths.workspaceStream("ws-two"),
    await workspaceToken("agent-ws", agentToken, "ws-two"),
  );
  try {
    const snap = validWorkspaceEvent(await one.next());
    if (snap.type !== "snapshot") throw new Error(`expected a snapshot, got ${snap.type}`);
    assert.equal(snap.data.workspaceId, "ws-one");
    assert.deepEqual(
      snap.data.deployments.map((d) => [d.name, d.generation]),
      [["orders", 1]],
    );
    const snapTwo = validWorkspaceEvent(await two.next());
    if (snapTwo.type !== "snapshot") throw new Error("expected a snapshot");
    assert.deepEqual(snapTwo.data.deployments, []);

    await cp.admin.putDeployment("ws-one", "orders", { ...DEPLOYMENT, parallelism: 4 });
    const up = validWorkspaceEvent(await one.next());
    if (up.type !== "deployment.upsert") throw new Error(`expected an upsert, got ${up.type}`);
    assert.equal(up.data.deployment.generation, 2);
    assert.equal(up.data.deployment.parallelism, 4);

    await cp.admin.deleteDeployment("ws-one", "orders");
    const del = validWorkspaceEvent(await one.next());
    assert.equal(del.type, "deployment.delete");
    assert.deepEqual(del.data, { name: "orders" });
    assert.equal(two.pending(), 0);
  } finally {
    one.close();
    two.close();
  }
});

test("deleting a workspace deletes its deployments on its stream, then ends the stream", async () => {
  const { cp } = server;
  const agentToken = await agentWithWorkspace(cp, "agent-del", "del-a");
  await cp.admin.putDeployment("del-a", "x", DEPLOYMENT);
  await cp.admin.putDeployment("del-a", "y", DEPLOYMENT);
  const wsToken = await workspaceToken("agent-del", agentToken, "del-a");
  const agent = await SseReader.open(cp, paths.agentStream("agent-del"), agentToken);
  const ws = await SseReader.open(cp, paths.workspaceStream("del-a"), wsToken);
  try {
    await agent.next();
    await ws.next();
    const result = await cp.admin.deleteWorkspace("agent-del", "del-a");
    const deletes = [validWorkspaceEvent(await ws.next()), validWorkspaceEvent(await ws.next())];
    assert.deepEqual(
      deletes.map((e) => [e.type, e.data]),
      [
        ["deployment.delete", { name: "x" }],
        ["deployment.delete", { name: "y" }],
      ],
    );
    const wsDelete = validAgentEvent(await agent.next());
    assert.equal(wsDelete.type, "workspace.delete");
    assert.equal(wsDelete.id, result.eventId);
    assert.match((await ws.ended).message, /ended the stream/);
    assert.deepEqual(await cp.admin.listWorkspaces("agent-del"), []);

    const again = await cp.admin.putWorkspace("agent-del", "del-a", WORKSPACE);
    assert.equal(again.workspace.generation, 2, "a re-created workspace continues its generation");
    assert.deepEqual(await cp.admin.listDeployments("del-a"), []);
  } finally {
    agent.close();
    ws.close();
  }
});

test("Last-Event-ID replays the changes after it, in order, without a snapshot", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-resume", "resume-a");
  const first = await SseReader.open(cp, paths.agentStream("agent-resume"), token);
  const snap = await first.next();
  first.close();

  const b = await cp.admin.putWorkspace("agent-resume", "resume-b", WORKSPACE);
  await agentWithWorkspace(cp, "agent-noise", "noise-a");
  const d = await cp.admin.deleteWorkspace("agent-resume", "resume-a");

  const resumed = await SseReader.open(cp, paths.agentStream("agent-resume"), token, snap.id);
  try {
    const e1 = validAgentEvent(await resumed.next());
    const e2 = validAgentEvent(await resumed.next());
    assert.deepEqual(
      [e1.type, e1.id, e2.type, e2.id],
      ["workspace.upsert", b.eventId, "workspace.delete", d.eventId],
    );
    await sleep(100);
    assert.equal(resumed.pending(), 0, "another agent's change is not replayed");
  } finally {
    resumed.close();
  }

  const upToDate = await SseReader.open(cp, paths.agentStream("agent-resume"), token, d.eventId!);
  try {
    await sleep(150);
    assert.equal(upToDate.pending(), 0, "nothing to replay when resuming from the head");
    const c = await cp.admin.putWorkspace("agent-resume", "resume-c", WORKSPACE);
    assert.equal((await upToDate.next()).id, c.eventId);
  } finally {
    upToDate.close();
  }
});

test("an unusable Last-Event-ID (ahead of the head, not a number) gets a fresh snapshot", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-badid", "badid-a");
  const head = (await cp.admin.streams()).headEventId;
  for (const lastEventId of [String(Number(head) + 1000), "not-a-number", "-1"]) {
    const s = await SseReader.open(cp, paths.agentStream("agent-badid"), token, lastEventId);
    try {
      const m = validAgentEvent(await s.next());
      assert.equal(m.type, "snapshot", `Last-Event-ID ${lastEventId}`);
      assert.equal(m.id, head);
    } finally {
      s.close();
    }
  }
});

test("a stream sends keep-alive comments every keepAliveMs", async () => {
  const { cp } = server;
  const token = await agentWithWorkspace(cp, "agent-ka", "ka-a");
  const s = await SseReader.open(cp, paths.agentStream("agent-ka"), token);
  try {
    await s.next();
    await sleep(400);
    assert.ok(s.comments >= 3, `expected several keep-alives in 400 ms at 50 ms, got ${s.comments}`);
  } finally {
    s.close();
  }
});

test("a bounded change log: a resume from before the kept window gets a snapshot", async () => {
  const small = await startTestServer({ changeLogLimit: 3 });
  try {
    const { cp } = small;
    const token = await agentWithWorkspace(cp, "agent-small", "w0");
    const oldest = (await cp.admin.streams()).headEventId;
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++)
      ids.push((await cp.admin.putWorkspace("agent-small", `w${i}`, WORKSPACE)).eventId!);
    const state = await cp.admin.streams();
    assert.equal(state.changeLogSize, 3);

    const tooOld = await SseReader.open(cp, paths.agentStream("agent-small"), token, oldest);
    assert.equal((await tooOld.next()).event, "snapshot");
    tooOld.close();

    const recent = await SseReader.open(cp, paths.agentStream("agent-small"), token, ids[1]);
    const replay = [await recent.next(), await recent.next()];
    assert.deepEqual(
      replay.map((m) => m.id),
      [ids[2], ids[3]],
    );
    recent.close();
  } finally {
    await small.cleanup();
  }
});
