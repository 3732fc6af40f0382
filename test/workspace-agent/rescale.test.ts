// Rescaling in place (issue 13, deliverable 6) on real Flink: a deployment in reactive mode
// (`scaling.mode: reactive`) whose parallelism goes from 1 to 2 (one slot per TaskManager, so from 1 to
// 2 TaskManagers) keeps its run: the same JobManager pod, the same job, no savepoint; the workspace
// agent only adds a TaskManager pod and Flink's adaptive scheduler rescales the job itself, which
// ParallelismAligned reports.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DeploymentStatus } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { parseState } from "@meridian/workspace-agent/flink/lifecycle-state";
import type { DeploymentBody } from "../control-plane/index.ts";
import { FlinkProbe, type Obj } from "./flink-probe.ts";
import {
  condition,
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  kubeGet,
  reported,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent | undefined;
let probe: FlinkProbe;
const NAME = "orders";

const spec: DeploymentBody = {
  image: FLINK_IMAGE,
  job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
  parallelism: 1,
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
  flinkConfiguration: {
    "execution.checkpointing.interval": "2 s",
    // The adaptive scheduler's waits after a rescale and after new slots (30 s and 60 s by default):
    // short here, so the test measures the mechanism, not Flink's patience.
    "jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling": "1 s",
    "jobmanager.adaptive-scheduler.executing.resource-stabilization-timeout": "1 s",
  },
  state: "RUNNING",
  upgradeMode: "SAVEPOINT",
  scaling: { mode: "reactive" },
};

const status = () => reported(env, ws, NAME);

/** The lifecycle state the workspace agent persisted on the deployment's ConfigMap. */
async function lifecycle() {
  const cm = await kubeGet<Obj>(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`);
  const parsed = parseState(cm?.metadata?.annotations?.["meridian.dev/lifecycle-state"]);
  assert.ok(parsed.ok && parsed.state, "the lifecycle state is on the ConfigMap");
  return parsed.state;
}

/** The job's parallelism as Flink's REST API shows it (the highest of its vertices). */
async function flinkParallelism(jobId: string): Promise<number | undefined> {
  const j = await probe.rest<{ state: string; vertices: { parallelism: number }[] }>(`/jobs/${jobId}`);
  return j?.state === "RUNNING" ? Math.max(...j.vertices.map((v) => v.parallelism)) : undefined;
}

function waitAligned(what: string, taskManagers: number): Promise<DeploymentStatus> {
  return waitFor(
    what,
    async () => {
      const s = await status();
      return s?.job.state === "RUNNING" &&
        s.taskManagers.ready === taskManagers &&
        s.taskManagers.pods.length === taskManagers && // a deleted one no longer terminating
        condition(s, "ParallelismAligned")?.status === "True" &&
        condition(s, "Ready")?.status === "True"
        ? s
        : undefined;
    },
    300_000,
    500,
  );
}

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "rescale");
  probe = new FlinkProbe(env, ws.namespace, NAME);
  agent = await startAgent(env, ws);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

test("reactive mode: 1 -> 2 TaskManagers rescales the job in place, same JobManager, same run, no savepoint", async () => {
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
  const first = await waitAligned("job RUNNING on 1 TaskManager, ParallelismAligned", 1);
  const jobId = first.job.id;
  assert.ok(jobId);
  assert.equal(await flinkParallelism(jobId), 1);
  assert.match(condition(first, "ParallelismAligned")?.message ?? "", /1 TaskManagers × 1 slots/);
  const jm = await probe.pod(`${NAME}-jobmanager`);
  const config = await kubeGet<Obj>(
    env,
    `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`,
  );
  assert.match(config?.data?.["config.yaml"] ?? "", /^scheduler-mode: "reactive"$/m);
  const before = await lifecycle();
  assert.equal(before.run?.id, 1);

  // Parallelism 2 with one slot per TaskManager: two TaskManagers, and nothing else changes.
  await env.cp.admin.putDeployment(ws.id, NAME, { ...spec, parallelism: 2 });
  const rescaled = await waitAligned("the job rescaled to 2 TaskManagers, ParallelismAligned", 2);
  assert.equal(await flinkParallelism(jobId), 2, "Flink runs the job with parallelism 2");
  assert.equal(rescaled.job.id, jobId, "the same job");
  assert.equal(rescaled.taskManagers.desired, 2);
  assert.equal(rescaled.slots?.total, 2);
  assert.match(condition(rescaled, "ParallelismAligned")?.message ?? "", /2 TaskManagers × 1 slots/);
  assert.equal(condition(rescaled, "SpecAligned")?.status, "True");
  const jmAfter = await probe.pod(`${NAME}-jobmanager`);
  assert.equal(jmAfter?.metadata.uid, jm?.metadata.uid, "the same JobManager pod");
  assert.equal(FlinkProbe.restarts(jmAfter), FlinkProbe.restarts(jm), "its container not restarted");
  const after = await lifecycle();
  assert.equal(after.run?.id, before.run?.id, "the same run");
  assert.equal(after.run?.startedAt, before.run?.startedAt);
  assert.equal(after.op, undefined, "no operation (upgrade, savepoint) ran");
  assert.equal(after.spec.parallelism, 2, "the stored spec is the new one");
  assert.deepEqual(after.savepoints, [], "no savepoint taken");
  assert.deepEqual(rescaled.savepoints, []);
  // Flink restarted the job's tasks from its latest checkpoint (if it had one), never from a savepoint.
  const restored = (await probe.job())?.checkpoints.latest?.restored;
  assert.notEqual(restored?.is_savepoint, true, `restored from ${JSON.stringify(restored)}`);
});

test("reactive mode: 2 -> 1 TaskManagers deletes one pod and the job rescales down, same run, no savepoint", async () => {
  const before = await lifecycle();
  const jm = await probe.pod(`${NAME}-jobmanager`);
  const jobId = (await status())?.job.id;
  assert.ok(jobId);
  await env.cp.admin.putDeployment(ws.id, NAME, { ...spec, parallelism: 1 });
  const down = await waitAligned("the job rescaled down to 1 TaskManager, ParallelismAligned", 1);
  assert.equal(await flinkParallelism(jobId), 1, "Flink runs the job with parallelism 1");
  assert.equal(down.job.id, jobId, "the same job");
  assert.deepEqual(
    down.taskManagers.pods.map((p) => p.name),
    [`${NAME}-taskmanager-0`],
  );
  assert.equal(
    (await probe.pod(`${NAME}-jobmanager`))?.metadata.uid,
    jm?.metadata.uid,
    "the same JobManager pod",
  );
  const after = await lifecycle();
  assert.equal(after.run?.id, before.run?.id, "the same run");
  assert.deepEqual(after.savepoints, [], "no savepoint taken");
  const restored = (await probe.job())?.checkpoints.latest?.restored;
  assert.notEqual(restored?.is_savepoint, true, `restored from ${JSON.stringify(restored)}`);
});
