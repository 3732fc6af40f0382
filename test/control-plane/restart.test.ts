// State survives a restart on the same database: desired state, tokens, statuses, and the event
// sequence, which continues where it stopped so that Last-Event-ID resume works across restarts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { paths } from "@meridian/shared/protocol/index";
import { startControlPlane } from "./server.ts";
import {
  agentWithWorkspace,
  call,
  DEPLOYMENT,
  SseReader,
  startTestServer,
  WORKSPACE,
} from "./test-support.ts";

test("restart(): same URL, same state, the sequence continues monotonically", async () => {
  const server = await startTestServer();
  try {
    const { cp } = server;
    const token = await agentWithWorkspace(cp, "agent-r", "r-a");
    await cp.admin.putDeployment("r-a", "orders", DEPLOYMENT);
    const url = cp.url;
    const open = await SseReader.open(cp, paths.agentStream("agent-r"), token);
    const snap = await open.next();
    const headBefore = Number((await cp.admin.streams()).headEventId);

    await cp.restart();
    await open.ended;
    assert.equal(cp.url, url);

    const after = await SseReader.open(cp, paths.agentStream("agent-r"), token);
    const snapAfter = await after.next();
    after.close();
    assert.equal(snapAfter.event, "snapshot");
    assert.equal(Number(snapAfter.id), headBefore);
    assert.equal(snapAfter.data, snap.data);
    assert.equal((await cp.admin.getDeployment("r-a", "orders")).generation, 1);

    const put = await cp.admin.putWorkspace("agent-r", "r-b", WORKSPACE);
    assert.equal(Number(put.eventId), headBefore + 1);

    const resumed = await SseReader.open(cp, paths.agentStream("agent-r"), token, snap.id);
    try {
      const m = await resumed.next();
      assert.deepEqual([m.event, m.id], ["workspace.upsert", put.eventId]);
    } finally {
      resumed.close();
    }
  } finally {
    await server.cleanup();
  }
});

test("stop, then startControlPlane on the same dbPath: everything is still there", async () => {
  const server = await startTestServer();
  const { cp, dbPath } = server;
  const token = await agentWithWorkspace(cp, "agent-s", "s-a");
  const status = {
    agent: {
      id: "agent-s",
      version: "0.1.0",
      identity: "pod",
      leader: "pod",
      kubernetesVersion: "v1.35.4",
      startedAt: new Date().toISOString(),
    },
    workspaces: [],
    rejectedEvents: { count: 0 },
  };
  assert.equal((await call(cp, "POST", paths.agentStatus("agent-s"), { token, body: status })).status, 204);
  await cp.admin.putWorkspace("agent-s", "s-a", { quota: { cpu: "2", memory: "2Gi" } });
  const head = Number((await cp.admin.streams()).headEventId);
  await cp.stop();
  await cp.stop();

  const again = await startControlPlane({ dbPath });
  try {
    assert.notEqual(again.url, "");
    const ws = await again.admin.getWorkspace("s-a");
    assert.deepEqual([ws.agentId, ws.spec.generation, ws.spec.quota.cpu], ["agent-s", 2, "2"]);
    assert.deepEqual((await again.admin.getAgent("agent-s")).status, status);
    const s = await SseReader.open(again, paths.agentStream("agent-s"), token);
    const snap = await s.next();
    s.close();
    assert.equal(Number(snap.id), head);
    const next = await again.admin.putWorkspace("agent-s", "s-b", WORKSPACE);
    assert.ok(Number(next.eventId) > head);
  } finally {
    await again.stop();
    await server.cleanup();
  }
});
