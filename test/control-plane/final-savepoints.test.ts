// The reference control plane keeps the final savepoints an agent reports for a deleted (or unknown)
// workspace, and hands each once to a new deployment of the same name in a new workspace with the
// same id, on the same agent, as its job.initialSavepointPath; a live workspace's report, another
// agent's workspace and a body that names its own path are left as they are.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type AgentStatus, paths } from "@meridian/shared/protocol/index";
import { call, DEPLOYMENT, startTestServer, type TestServer, WORKSPACE } from "./test-support.ts";

let server: TestServer;
let token: string;
before(async () => {
  server = await startTestServer();
  token = (await server.cp.admin.createAgent("agent-fs")).token;
  await server.cp.admin.createAgent("agent-other");
});
after(() => server.cleanup());

const SP = "s3://state/workspaces/ws/orders/savepoints/savepoint-final";

async function report(workspaces: AgentStatus["workspaces"]): Promise<void> {
  const t = new Date().toISOString();
  const body: AgentStatus = {
    agent: {
      id: "agent-fs",
      version: "0",
      identity: "a",
      leader: "a",
      kubernetesVersion: "v1",
      startedAt: t,
    },
    workspaces,
    rejectedEvents: { count: 0 },
  };
  const res = await call(server.cp, "POST", paths.agentStatus("agent-fs"), { token, body });
  assert.equal(res.status, 204);
}

const deleted = (id: string, location: string) => ({
  id,
  observedGeneration: 1,
  phase: "Deleted" as const,
  conditions: [],
  finalSavepoints: [{ deployment: "orders", location }],
});

test("a deleted workspace's final savepoint becomes the re-created deployment's initialSavepointPath, once", async () => {
  const { admin } = server.cp;
  await admin.putWorkspace("agent-fs", "ws", WORKSPACE);
  await admin.putDeployment("ws", "orders", DEPLOYMENT);
  // Reported while the workspace is live: not kept (it is no final state yet).
  await report([deleted("ws", `${SP}-early`)]);
  await admin.deleteWorkspace("agent-fs", "ws");
  await report([deleted("ws", SP)]);
  await admin.putWorkspace("agent-fs", "ws", WORKSPACE);
  const first = await admin.putDeployment("ws", "orders", DEPLOYMENT);
  assert.equal(first.deployment.job.initialSavepointPath, SP);
  // Put again without the field: the deployment keeps it, and nothing changes.
  const again = await admin.putDeployment("ws", "orders", DEPLOYMENT);
  assert.equal(again.changed, false);
  assert.equal(again.deployment.job.initialSavepointPath, SP);
  // Used up: another new deployment of that name starts without it.
  await admin.deleteDeployment("ws", "orders");
  const fresh = await admin.putDeployment("ws", "orders", DEPLOYMENT);
  assert.equal(fresh.deployment.job.initialSavepointPath, undefined);
});

test("an orphan's final savepoint (a workspace this control plane does not know) is kept for the same agent only", async () => {
  const { admin } = server.cp;
  await report([deleted("lost", SP)]);
  await admin.putWorkspace("agent-other", "lost", WORKSPACE);
  const other = await admin.putDeployment("lost", "orders", DEPLOYMENT);
  assert.equal(other.deployment.job.initialSavepointPath, undefined, "another agent's workspace");
  await admin.deleteWorkspace("agent-other", "lost");
  await admin.putWorkspace("agent-fs", "lost", WORKSPACE);
  const own = await admin.putDeployment("lost", "orders", DEPLOYMENT);
  assert.equal(own.deployment.job.initialSavepointPath, SP);
});

test("a body that names its own initialSavepointPath keeps it", async () => {
  const { admin } = server.cp;
  await report([deleted("named", SP)]);
  await admin.putWorkspace("agent-fs", "named", WORKSPACE);
  const own = `${SP}-chosen`;
  const put = await admin.putDeployment("named", "orders", {
    ...DEPLOYMENT,
    job: { ...DEPLOYMENT.job, initialSavepointPath: own },
  });
  assert.equal(put.deployment.job.initialSavepointPath, own);
});
