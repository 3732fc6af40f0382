// One Flink deployment (real JVMs) carried through its lifecycle by an in-process workspace agent on
// the local cluster, reported through the reference control plane. The cases share the deployment
// and run in order: JVMs are slow on two cores.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  condition,
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  podsOf,
  reported,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent | undefined;
const NAME = "orders";

const body: DeploymentBody = {
  image: FLINK_IMAGE,
  job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
  flinkConfiguration: { "execution.checkpointing.interval": "10 s" },
  parallelism: 1,
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
  state: "RUNNING",
  upgradeMode: "SAVEPOINT",
};
let spec: DeploymentBody = body;

async function put(change: Partial<DeploymentBody>): Promise<void> {
  spec = { ...spec, ...change };
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
}

const status = () => reported(env, ws, NAME);

async function waitRunning(what: string, timeoutMs = 180_000) {
  return waitFor(
    what,
    async () => {
      const s = await status();
      return s?.job.state === "RUNNING" && condition(s, "Ready")?.status === "True" ? s : undefined;
    },
    timeoutMs,
    500,
  );
}

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-a");
  agent = await startAgent(env, ws);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

test("a deployment reaches RUNNING and the control plane is told", async () => {
  await put({});
  const s = await waitRunning("job RUNNING");
  assert.equal(s.phase, "Running");
  assert.ok(s.job.id, "job id reported");
  assert.equal(s.taskManagers.desired, 1);
  assert.equal(s.taskManagers.ready, 1);
  assert.equal(s.jobManager?.ready, true);
  assert.equal(s.slots?.total, 1);
  for (const type of ["SpecAligned", "Healthy", "ParallelismAligned", "NonceAligned"])
    assert.equal(condition(s, type)?.status, "True", type);
  assert.equal(condition(s, "DeletionBlocked")?.status, "False");
  assert.equal(s.observedGeneration, 1);
});

test("savepoint nonce: a savepoint on disk, its location reported", async () => {
  await put({ savepointNonce: 1 });
  const s = await waitFor(
    "savepoint reported",
    async () => {
      const st = await status();
      return st?.observedSavepointNonce === 1 && st.lastSavepoint ? st : undefined;
    },
    120_000,
  );
  assert.equal(s.lastSavepoint?.trigger, "nonce");
  assert.equal(s.lastSavepoint?.nonce, 1);
  const path = s.lastSavepoint?.location.replace(/^file:(\/\/)?/, "") ?? "";
  assert.ok(path.startsWith(env.dataDir), `savepoint under the shared data dir: ${path}`);
  assert.ok(existsSync(`${path}/_metadata`), `savepoint metadata on disk at ${path}`);
  assert.equal(condition(s, "NonceAligned")?.status, "True");
  assert.equal(s.job.state, "RUNNING");
});

test("delete removes every pod, the Service and the ConfigMap", async () => {
  await env.cp.admin.deleteDeployment(ws.id, NAME);
  await waitFor("pods gone", async () => (await podsOf(env, ws.namespace, NAME)).length === 0, 120_000);
  await waitFor("ConfigMap gone", async () => {
    const r = await env.cluster.request(
      "GET",
      `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`,
    );
    return r.status === 404;
  });
  const svc = await env.cluster.request(
    "GET",
    `/api/v1/namespaces/${ws.namespace}/services/${NAME}-jobmanager`,
  );
  assert.equal(svc.status, 404);
});
