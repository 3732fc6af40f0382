// Status reporting (level-based, readable through the admin API) and validation of admin bodies.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  type AgentStatus,
  errorBody,
  paths,
  type WorkspaceAgentStatus,
  workspaceCredential,
} from "@meridian/shared/protocol/index";
import type { AdminError } from "./admin-client.ts";
import {
  agentWithWorkspace,
  call,
  DEPLOYMENT,
  startTestServer,
  type TestServer,
  WORKSPACE,
} from "./test-support.ts";

let server: TestServer;
let agentToken: string;
before(async () => {
  server = await startTestServer();
  agentToken = await agentWithWorkspace(server.cp, "agent-st", "ws-st");
});
after(() => server.cleanup());

const now = () => new Date().toISOString();

function agentStatusBody(observedGeneration: number): AgentStatus {
  return {
    agent: {
      id: "agent-st",
      version: "0.1.0",
      identity: "agent-pod-1",
      leader: "agent-pod-1",
      kubernetesVersion: "v1.35.4",
      startedAt: now(),
    },
    lastEventId: "3",
    workspaces: [{ id: "ws-st", observedGeneration, phase: "Ready", namespace: "mw-ws-st", conditions: [] }],
    rejectedEvents: { count: 0 },
  };
}

async function expectInvalid(res: Response, field: RegExp): Promise<void> {
  assert.equal(res.status, 400);
  const body = errorBody.parse(await res.json());
  assert.equal(body.error.code, "invalid");
  assert.match(body.error.message, field);
}

test("agent status: 204, stored, the latest replaces the previous, heartbeat recorded", async () => {
  const { cp } = server;
  assert.deepEqual(await cp.admin.getAgent("agent-st"), {
    id: "agent-st",
    lastHeartbeatAt: null,
    status: null,
  });
  const before = Date.now();
  const first = await call(cp, "POST", paths.agentStatus("agent-st"), {
    token: agentToken,
    body: agentStatusBody(1),
  });
  assert.equal(first.status, 204);
  const latest = agentStatusBody(2);
  const second = await call(cp, "POST", paths.agentStatus("agent-st"), { token: agentToken, body: latest });
  assert.equal(second.status, 204);
  const record = await cp.admin.getAgent("agent-st");
  assert.equal(record.status?.workspaces[0]?.observedGeneration, 2);
  assert.ok(record.lastHeartbeatAt !== null && Date.parse(record.lastHeartbeatAt) >= before - 5);
  assert.deepEqual(record.status, latest);
  assert.deepEqual(await cp.admin.getAgentStatus("agent-st"), latest);
});

test("an invalid status is refused with 400 naming the field, and changes nothing", async () => {
  const { cp } = server;
  const bad = {
    ...agentStatusBody(7),
    workspaces: [{ id: "ws-st", observedGeneration: -1, phase: "Ready", conditions: [] }],
  };
  await expectInvalid(
    await call(cp, "POST", paths.agentStatus("agent-st"), { token: agentToken, body: bad }),
    /workspaces\.0\.observedGeneration/,
  );
  const wrongAgent = agentStatusBody(7);
  wrongAgent.agent.id = "someone-else";
  await expectInvalid(
    await call(cp, "POST", paths.agentStatus("agent-st"), { token: agentToken, body: wrongAgent }),
    /agent\.id/,
  );
  const notJson = await fetch(cp.url + paths.agentStatus("agent-st"), {
    method: "POST",
    headers: { "meridian-protocol-version": "1", authorization: `Bearer ${agentToken}` },
    body: "{nope",
  });
  await expectInvalid(notJson, /not valid JSON/);
  assert.notEqual((await cp.admin.getAgentStatus("agent-st"))?.workspaces[0]?.observedGeneration, 7);
});

test("workspace status: stored, readable per workspace and per deployment", async () => {
  const { cp } = server;
  await cp.admin.putDeployment("ws-st", "orders", DEPLOYMENT);
  const cred = workspaceCredential.parse(
    await (
      await call(cp, "POST", paths.workspaceCredential("agent-st", "ws-st"), { token: agentToken })
    ).json(),
  );
  assert.equal(await cp.admin.getDeploymentStatus("ws-st", "orders"), null);
  const status: WorkspaceAgentStatus = {
    workspaceId: "ws-st",
    agent: { version: "0.1.0", identity: "ws-agent-0", startedAt: now() },
    deployments: [
      {
        name: "orders",
        observedGeneration: 1,
        phase: "Running",
        job: { state: "RUNNING" },
        taskManagers: { desired: 2, ready: 2, pods: [] },
        savepoints: [],
        observedRestartNonce: 0,
        observedSavepointNonce: 0,
        conditions: [],
      },
    ],
    rejectedEvents: { count: 0 },
  };
  const res = await call(cp, "POST", paths.workspaceStatus("ws-st"), { token: cred.token, body: status });
  assert.equal(res.status, 204);
  const record = await cp.admin.getWorkspace("ws-st");
  assert.equal(record.agentId, "agent-st");
  assert.equal(record.spec.generation, 1);
  assert.deepEqual(record.status, status);
  assert.ok(record.lastHeartbeatAt);
  assert.equal((await cp.admin.getDeploymentStatus("ws-st", "orders"))?.phase, "Running");
  assert.equal(await cp.admin.getDeploymentStatus("ws-st", "missing"), null);

  await expectInvalid(
    await call(cp, "POST", paths.workspaceStatus("ws-st"), {
      token: cred.token,
      body: { ...status, workspaceId: "x" },
    }),
    /workspaceId/,
  );
});

test("invalid admin bodies are 400 naming the field", async () => {
  const { cp } = server;
  const put = (path: string, body: unknown) =>
    fetch(cp.url + path, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  await expectInvalid(
    await put("/admin/agents/agent-st/workspaces/ws-bad", { quota: { cpu: "lots", memory: "1Gi" } }),
    /quota\.cpu/,
  );
  await expectInvalid(await put("/admin/agents/agent-st/workspaces/Not_A_Label", WORKSPACE), /\bid\b/);
  await expectInvalid(
    await put("/admin/agents/agent-st/workspaces/ws-x", { ...WORKSPACE, id: "ws-y" }),
    /id: must be "ws-x"/,
  );
  await expectInvalid(
    await put("/admin/workspaces/ws-st/deployments/orders", { ...DEPLOYMENT, parallelism: 0 }),
    /parallelism/,
  );
  await expectInvalid(
    await put("/admin/workspaces/ws-st/deployments/orders", { ...DEPLOYMENT, state: "PAUSED" }),
    /state/,
  );
  await expectInvalid(await put("/admin/workspaces/ws-st/deployments/orders", [1, 2]), /JSON object/);
  const agent = await fetch(`${cp.url}/admin/agents`, {
    method: "POST",
    body: JSON.stringify({ id: "UPPER" }),
  });
  await expectInvalid(agent, /\bid\b/);
  const badFault = await fetch(`${cp.url}/admin/faults`, {
    method: "POST",
    body: JSON.stringify({ type: "explode" }),
  });
  await expectInvalid(badFault, /type/);
  assert.equal((await cp.admin.getDeployment("ws-st", "orders")).parallelism, DEPLOYMENT.parallelism);
});

test("the server owns generation: a body's generation is ignored, only a real change increments it", async () => {
  const { cp } = server;
  const first = await cp.admin.putWorkspace("agent-st", "ws-gen", {
    ...WORKSPACE,
    generation: 42,
  } as typeof WORKSPACE);
  assert.equal(first.workspace.generation, 1);
  const same = await cp.admin.putWorkspace("agent-st", "ws-gen", WORKSPACE);
  assert.deepEqual([same.changed, same.workspace.generation], [false, 1]);
  const changed = await cp.admin.putWorkspace("agent-st", "ws-gen", { quota: { cpu: "8", memory: "8Gi" } });
  assert.deepEqual([changed.changed, changed.workspace.generation], [true, 2]);
  assert.equal((await cp.admin.getWorkspaceSpec("agent-st", "ws-gen")).quota.cpu, "8");
});

test("admin refusals: unknown agent or workspace is 404, a workspace owned by another agent is 400", async () => {
  const { cp } = server;
  await assert.rejects(
    cp.admin.putWorkspace("no-agent", "ws-q", WORKSPACE),
    (e: AdminError) => e.status === 404,
  );
  await assert.rejects(
    cp.admin.putDeployment("no-ws", "d", DEPLOYMENT),
    (e: AdminError) => e.code === "not_found",
  );
  await assert.rejects(cp.admin.getAgent("no-agent"), (e: AdminError) => e.status === 404);
  await cp.admin.createAgent("agent-other");
  await assert.rejects(
    cp.admin.putWorkspace("agent-other", "ws-st", WORKSPACE),
    (e: AdminError) => e.status === 400 && /belongs to agent "agent-st"/.test(e.message),
  );
  await assert.rejects(cp.admin.deleteWorkspace("agent-other", "ws-st"), (e: AdminError) => e.status === 404);
  await assert.rejects(cp.admin.deleteDeployment("ws-st", "never"), (e: AdminError) => e.status === 404);
});
