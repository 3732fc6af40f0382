// One Flink deployment (real JVMs) carried through its lifecycle by an in-process workspace agent on
// the local cluster, reported through the reference control plane. The cases share the deployment
// and run in order: JVMs are slow on two cores.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import type { DeploymentStatus } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { parseState } from "@meridian/workspace-agent/flink/lifecycle-state";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  condition,
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  kubeGet,
  type PodLite,
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

let spec: DeploymentBody = {
  image: FLINK_IMAGE,
  job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
  parallelism: 1,
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
  flinkConfiguration: { "execution.checkpointing.interval": "10 s" },
  state: "RUNNING",
  upgradeMode: "SAVEPOINT",
};

async function put(change: Partial<DeploymentBody>): Promise<void> {
  spec = { ...spec, ...change };
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
}

const status = () => reported(env, ws, NAME);

/** Job RUNNING and Ready, as the control plane last heard, optionally with more conditions. */
function waitRunning(
  what: string,
  extra: (s: DeploymentStatus) => boolean = () => true,
  timeoutMs = 240_000,
) {
  return waitFor(
    what,
    async () => {
      const s = await status();
      return s?.job.state === "RUNNING" && condition(s, "Ready")?.status === "True" && extra(s)
        ? s
        : undefined;
    },
    timeoutMs,
    500,
  );
}

const livePods = async () =>
  (await podsOf(env, ws.namespace, NAME)).filter((p) => !p.metadata.deletionTimestamp);
const jobManagerArgs = async () => {
  const pod = await kubeGet<{ spec: { containers: Array<{ args: string[] }> } }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/pods/${NAME}-jobmanager`,
  );
  return pod?.spec.containers[0]?.args ?? [];
};
const localPath = (location: string) => location.replace(/^file:(\/\/)?/, "");

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
  const s = await waitRunning("job RUNNING", (st) => st.slots?.total === 1);
  assert.equal(s.phase, "Running");
  assert.ok(s.job.id, "job id reported");
  assert.equal(s.taskManagers.desired, 1);
  assert.equal(s.taskManagers.ready, 1);
  assert.equal(s.jobManager?.ready, true);
  for (const type of ["SpecAligned", "Healthy", "ParallelismAligned", "NonceAligned"])
    assert.equal(condition(s, type)?.status, "True", type);
  assert.equal(condition(s, "DeletionBlocked")?.status, "False");
  assert.equal(s.observedGeneration, 1);
});

test("a killed TaskManager is restarted in place by the kubelet and the job recovers", async () => {
  const before = (await livePods()).find((p) => p.metadata.name === `${NAME}-taskmanager-0`);
  const jobId = (await status())?.job.id;
  assert.ok(before && jobId);
  const pids = env.sim.podProcesses(ws.namespace, before.metadata.name);
  assert.ok(pids.length > 0, "the TaskManager runs as a process");
  for (const pid of pids) process.kill(pid, "SIGKILL");
  // restartPolicy Always: the same pod, its container restarted (decision 43).
  await waitFor(
    "the TaskManager's container restarted",
    async () => {
      const p = await kubeGet<{ status?: { containerStatuses?: { restartCount?: number }[] } }>(
        env,
        `/api/v1/namespaces/${ws.namespace}/pods/${NAME}-taskmanager-0`,
      );
      return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1;
    },
    60_000,
  );
  assert.ok(
    (await livePods()).some(
      (p) => p.metadata.name === `${NAME}-taskmanager-0` && p.metadata.uid === before.metadata.uid,
    ),
    "the same TaskManager pod",
  );
  // Flink noticed the loss and restarted the job on the new TaskManager.
  const jm = (await livePods()).find((p) => p.metadata.name === `${NAME}-jobmanager`);
  await waitFor(
    "the job restarted in Flink",
    async () => {
      const r = await fetch(`http://${jm?.status?.podIP}:8081/jobs/${jobId}/metrics?get=numRestarts`);
      const m = (await r.json()) as Array<{ id: string; value: string }>;
      return Number(m.find((x) => x.id === "numRestarts")?.value ?? 0) >= 1;
    },
    90_000,
  );
  const s = await waitRunning(
    "job RUNNING again with a slot",
    (st) => st.slots?.total === 1 && st.slots.available === 0 && condition(st, "Healthy")?.status === "True",
  );
  assert.equal(s.job.id, jobId, "the same job recovered (the JobManager was not replaced)");
  assert.equal(s.taskManagers.ready, 1);
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
  const path = localPath(s.lastSavepoint?.location ?? "");
  assert.ok(path.startsWith(env.dataDir), `savepoint under the shared data dir: ${path}`);
  assert.ok(existsSync(`${path}/_metadata`), `savepoint metadata on disk at ${path}`);
  assert.equal(condition(s, "NonceAligned")?.status, "True");
  assert.equal(s.job.state, "RUNNING");
});

test("a killed JobManager is recreated and restarts the job from the newest savepoint", async () => {
  const before = await status();
  const jm = (await livePods()).find((p) => p.metadata.name === `${NAME}-jobmanager`);
  assert.ok(jm && before?.lastSavepoint);
  for (const pid of env.sim.podProcesses(ws.namespace, jm.metadata.name)) process.kill(pid, "SIGKILL");
  await waitFor(
    "a new JobManager pod",
    async () =>
      (await livePods()).some(
        (p) => p.metadata.name === `${NAME}-jobmanager` && p.metadata.uid !== jm.metadata.uid,
      ),
    60_000,
  );
  assert.deepEqual((await jobManagerArgs()).slice(3, 5), ["--fromSavepoint", before.lastSavepoint.location]);
  await waitRunning(
    "job RUNNING on the new JobManager",
    (st) => st.job.id !== before.job.id && st.slots?.total === 1,
  );
});

test("restart nonce: the job is stopped with a savepoint and restarted from it", async () => {
  const before = await status();
  await put({ restartNonce: 1 });
  const s = await waitRunning(
    "restarted job RUNNING",
    (st) => st.observedRestartNonce === 1 && st.job.id !== before?.job.id,
  );
  assert.equal(s.lastSavepoint?.trigger, "restart");
  assert.deepEqual((await jobManagerArgs()).slice(3, 5), ["--fromSavepoint", s.lastSavepoint?.location]);
});

test("rescale 1 -> 2 TaskManagers: parallelism 2 upgrades through a savepoint", async () => {
  await put({ parallelism: 2 });
  const s = await waitRunning(
    "parallelism 2 RUNNING",
    (st) =>
      st.taskManagers.ready === 2 &&
      st.slots?.total === 2 &&
      condition(st, "ParallelismAligned")?.status === "True",
  );
  assert.equal(s.taskManagers.desired, 2);
  assert.equal(s.lastSavepoint?.trigger, "upgrade");
  assert.equal(condition(s, "SpecAligned")?.status, "True");
  assert.equal((await livePods()).length, 3);
});

test("a workspace agent restarted mid-suspend finishes the suspend", async () => {
  await put({ state: "SUSPENDED" });
  const cmPath = `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`;
  const inFlight = await waitFor(
    "the suspend recorded in the ConfigMap",
    async () => {
      const cm = await kubeGet<{ metadata: { annotations?: Record<string, string> } }>(env, cmPath);
      const st = parseState(cm?.metadata.annotations?.["meridian.dev/lifecycle-state"]);
      return st.ok && st.state?.op?.kind === "suspend" ? st.state.op : undefined;
    },
    60_000,
    20,
  );
  await agent?.stop();
  agent = undefined;
  const cm = await kubeGet<{ metadata: { annotations?: Record<string, string> } }>(env, cmPath);
  const left = parseState(cm?.metadata.annotations?.["meridian.dev/lifecycle-state"]);
  assert.ok(left.ok && left.state?.op?.kind === "suspend", `stopped mid-suspend (at step ${inFlight.step})`);
  agent = await startAgent(env, ws);
  const s = await waitFor(
    "Suspended",
    async () => {
      const st = await status();
      return st?.phase === "Suspended" ? st : undefined;
    },
    120_000,
  );
  assert.equal(s.lastSavepoint?.trigger, "suspend");
  assert.ok(existsSync(`${localPath(s.lastSavepoint?.location ?? "")}/_metadata`));
  assert.equal(s.job.state, "NOT_DEPLOYED");
  assert.equal(condition(s, "Ready")?.status, "True");
  assert.equal((await podsOf(env, ws.namespace, NAME)).length, 0);
  const svc = await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/services/${NAME}-jobmanager`);
  assert.ok(svc, "the Service stays while suspended");
});

test("resume restores from the suspend savepoint", async () => {
  const suspended = await status();
  await put({ state: "RUNNING" });
  const s = await waitRunning("resumed job RUNNING", (st) => st.taskManagers.ready === 2);
  const args = await jobManagerArgs();
  assert.deepEqual(args.slice(3, 5), ["--fromSavepoint", suspended?.lastSavepoint?.location]);
  const jm = (await livePods()).find((p: PodLite) => p.metadata.name === `${NAME}-jobmanager`);
  const stats = (await (
    await fetch(`http://${jm?.status?.podIP}:8081/jobs/${s.job.id}/checkpoints`)
  ).json()) as { latest?: { restored?: { is_savepoint?: boolean; external_path?: string } } };
  assert.equal(stats.latest?.restored?.is_savepoint, true, "Flink restored from a savepoint");
  assert.equal(
    localPath(stats.latest?.restored?.external_path ?? ""),
    localPath(suspended?.lastSavepoint?.location ?? ""),
  );
});

test("cancel cancels the job and removes the pods", async () => {
  await put({ state: "CANCELLED" });
  const s = await waitFor(
    "Cancelled",
    async () => {
      const st = await status();
      return st?.phase === "Cancelled" ? st : undefined;
    },
    120_000,
  );
  assert.equal(s.job.state, "NOT_DEPLOYED");
  await waitFor("pods gone", async () => (await podsOf(env, ws.namespace, NAME)).length === 0, 60_000);
  const events = await kubeGet<{ items: Array<{ reason: string }> }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/events`,
  );
  const reasons = new Set(events?.items.map((e) => e.reason));
  for (const r of [
    "Deploying",
    "SavepointTriggered",
    "SavepointTaken",
    "Suspended",
    "Cancelled",
    "PodsRemoved",
  ])
    assert.ok(reasons.has(r), `an Event ${r}`);
});

test("delete removes every pod, the Service and the ConfigMap", async () => {
  await put({ state: "RUNNING" });
  await waitRunning("running again before the delete");
  await env.cp.admin.deleteDeployment(ws.id, NAME);
  await waitFor("pods gone", async () => (await podsOf(env, ws.namespace, NAME)).length === 0, 120_000);
  await waitFor(
    "ConfigMap gone",
    async () => !(await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`)),
  );
  assert.equal(
    await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/services/${NAME}-jobmanager`),
    undefined,
  );
  const all = await kubeGet<{ items: unknown[] }>(env, `/api/v1/namespaces/${ws.namespace}/pods`);
  assert.equal(all?.items.length, 0, "no pod left in the namespace");
});
