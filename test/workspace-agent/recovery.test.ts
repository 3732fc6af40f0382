// Flink jobs that recover on their own (issue 13), on real Flink with the workspace's state in a real
// S3 bucket (S3Proxy) and Kubernetes HA through the real API server, its RBAC (the Flink
// ServiceAccount's Role as the agent makes it) and the chart's confinement policies:
//   1. the JobManager JVM SIGKILLed: the kubelet restarts it in place and the job is RUNNING again,
//      restored from the latest checkpoint (newer than the savepoint, at most one interval lost);
//   2. the workspace agent stopped, the JobManager and a TaskManager SIGKILLed: the job recovers
//      without it, and the workspace agent, back, reconciles without replacing anything;
//   3. a LAST_STATE upgrade (parallelism 1 -> 2) restores from the latest checkpoint, no savepoint;
//   4. a LAST_STATE suspend keeps the HA metadata; with it removed the resume blocks with a condition.
// One job serves every step: JVMs are slow on two cores.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { type S3Server, startS3Server } from "../cluster/s3/s3-server.ts";
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
import { provisionStorage, seedHaStores } from "./storage-workspace.ts";

const BUCKET = "flink-state";
const WS = "recover";
const NAME = "orders";
/** The checkpoint interval: what "at most one interval lost" is measured in. */
const INTERVAL_MS = 2000;

let env: Env;
let ws: Workspace;
let s3: S3Server;
let s3Dir: string;
let agent: WorkspaceAgent | undefined;
let agentSettings: Parameters<typeof startAgent>[2];

const spec: DeploymentBody = {
  image: FLINK_IMAGE,
  job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
  parallelism: 1,
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
  flinkConfiguration: { "execution.checkpointing.interval": `${INTERVAL_MS} ms` },
  state: "RUNNING",
  upgradeMode: "LAST_STATE",
};

const status = () => reported(env, ws, NAME);
const JM = `${NAME}-jobmanager`;
const TM = `${NAME}-taskmanager-0`;
let probe: FlinkProbe;
const pod = (name: string) => probe.pod(name);
const rest = <T = Obj>(path: string) => probe.rest<T>(path);
const job = () => probe.job();
const sigkill = (name: string) => probe.sigkill(name);
const restarts = FlinkProbe.restarts;
const recovered = (what: string, atLeast: number) => probe.recovered(what, atLeast);
const checkpointAtLeast = (min: number) => probe.checkpointAtLeast(min);

before(async () => {
  s3Dir = await mkdtemp(join(tmpdir(), "meridian-s3-"));
  [env, s3] = await Promise.all([startEnv(), startS3Server({ dir: s3Dir })]);
  await s3.createBucket(BUCKET);
  ws = await createWorkspace(env, WS);
  probe = new FlinkProbe(env, ws.namespace, NAME);
  // What the agent makes of this workspace: the Flink ServiceAccount with its HA Role, and the
  // workspace agent's storage environment (read back by its own settings loader, as in its pod).
  agentSettings = await provisionStorage(env, ws, s3, { bucket: BUCKET });
  await seedHaStores(s3, BUCKET, `workspaces/${WS}/${NAME}/ha`, NAME);
  agent = await startAgent(env, ws, agentSettings);
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
  await s3?.stop();
  if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
});

let savepointCheckpoint = 0;

test("checkpoints are on and reported upward; HA runs with the Flink ServiceAccount's token in the Flink container", async () => {
  const s = await waitFor(
    "job RUNNING with a completed checkpoint reported",
    async () => {
      const st = await status();
      return st?.job.state === "RUNNING" && (st.checkpoints?.latest?.id ?? 0) >= 1 ? st : undefined;
    },
    300_000,
    500,
  );
  const latest = s.checkpoints?.latest;
  assert.ok(latest && latest.sizeBytes >= 0 && latest.durationMs >= 0 && Date.parse(latest.time) > 0);
  assert.match(latest.location ?? "", new RegExp(`^s3a?://${BUCKET}/workspaces/${WS}/${NAME}/checkpoints/`));
  const jm = await pod(JM);
  assert.equal(jm?.spec.restartPolicy, "Always");
  assert.equal(jm?.spec.automountServiceAccountToken, false);
  assert.ok(jm?.spec.volumes.some((v: Obj) => v.name === "kube-api-access"));
  // Flink's HA ConfigMaps, written by the Flink pods as meridian-flink.
  const ha = await kubeGet<Obj>(
    env,
    `/api/v1/namespaces/${ws.namespace}/configmaps?labelSelector=app%3D${NAME},type%3Dflink-native-kubernetes`,
  );
  const names = (ha?.items ?? []).map((c: Obj) => c.metadata.name);
  assert.ok(names.includes(`${NAME}-cluster-config-map`), `HA ConfigMaps: ${names.join(", ")}`);
  assert.ok(names.includes(`${NAME}-${s.job.id}-config-map`), `the job's HA ConfigMap: ${names.join(", ")}`);
  // A savepoint now: every later restore must come from a newer checkpoint than this.
  await env.cp.admin.putDeployment(ws.id, NAME, { ...spec, savepointNonce: 1 });
  const withSavepoint = await waitFor(
    "the savepoint reported",
    async () => {
      const st = await status();
      return st?.observedSavepointNonce === 1 && st.lastSavepoint ? st : undefined;
    },
    120_000,
    500,
  );
  assert.match(withSavepoint.lastSavepoint?.location ?? "", /savepoints/);
  // Flink counts the savepoint among the job's checkpoints (its statistics are cached for a few seconds).
  savepointCheckpoint = await waitFor(
    "the savepoint in Flink's checkpoint statistics",
    async () => (await job())?.checkpoints.latest?.savepoint?.id as number | undefined,
    30_000,
    500,
  );
});

test("the JobManager JVM SIGKILLed: restarted in place, RUNNING again from the latest checkpoint, newer than the savepoint", async (t) => {
  const before = await pod(JM);
  const last = await checkpointAtLeast(savepointCheckpoint + 2);
  const started = Date.now();
  sigkill(JM);
  const restored = await recovered("the job RUNNING again after the JobManager's kill", last);
  const after = await pod(JM);
  assert.equal(
    after?.metadata.uid,
    before?.metadata.uid,
    "the same pod: the kubelet restarted the container",
  );
  assert.ok(restarts(after) > restarts(before), "the container restarted");
  assert.equal(restored.is_savepoint, false, "restored from a checkpoint, not the savepoint");
  assert.ok(
    restored.id > savepointCheckpoint,
    `checkpoint ${restored.id} is newer than savepoint ${savepointCheckpoint}`,
  );
  // At most one interval lost: the restored checkpoint is the latest completed before the kill or later.
  assert.ok(restored.id >= last, `restored ${restored.id}, latest before the kill ${last}`);
  t.diagnostic(
    `JobManager kill -> RUNNING in ${Math.round((Date.now() - started) / 1000)} s, restored checkpoint ${restored.id} (latest before the kill ${last})`,
  );
});

test("the workspace agent stopped, the JobManager and a TaskManager SIGKILLed: the job recovers without it, and it reconciles cleanly when back", async () => {
  await agent?.stop();
  agent = undefined;
  const jmBefore = await pod(JM);
  const tmBefore = await pod(TM);
  const last = await checkpointAtLeast(0);
  sigkill(JM);
  sigkill(TM);
  const restored = await recovered("the job RUNNING again without the workspace agent", last);
  assert.equal(restored.is_savepoint, false);
  assert.ok(restored.id >= last, `restored ${restored.id}, latest before the kills ${last}`);
  for (const [name, before] of [
    [JM, jmBefore],
    [TM, tmBefore],
  ] as const) {
    const p = await pod(name);
    assert.equal(p?.metadata.uid, before?.metadata.uid, `${name}: nobody replaced the pod`);
    assert.ok(restarts(p) > restarts(before), `${name}: restarted by the kubelet`);
  }
  // Back: the workspace agent finds the job running and replaces nothing.
  const returned = new Date().toISOString();
  agent = await startAgent(env, ws, agentSettings);
  const s = await waitFor(
    "the returned workspace agent reporting the job Ready",
    async () => {
      const w = await env.cp.admin.getWorkspaceStatus(ws.id);
      if (!w || w.agent.startedAt < returned) return undefined; // still the stopped agent's last word
      const st = w.deployments.find((d) => d.name === NAME);
      return st?.job.state === "RUNNING" && condition(st, "Ready")?.status === "True" ? st : undefined;
    },
    120_000,
    500,
  );
  assert.equal(condition(s, "SpecAligned")?.status, "True");
  assert.equal((await pod(JM))?.metadata.uid, jmBefore?.metadata.uid, "the JobManager pod was kept");
  assert.equal((await pod(TM))?.metadata.uid, tmBefore?.metadata.uid, "the TaskManager pod was kept");
});

test("a LAST_STATE upgrade (parallelism 1 -> 2) restores from the latest checkpoint without a savepoint", async () => {
  const before = await job();
  assert.ok(before);
  const savepoints = (await status())?.savepoints.length ?? 0;
  const last = await checkpointAtLeast(0);
  await env.cp.admin.putDeployment(ws.id, NAME, { ...spec, savepointNonce: 1, parallelism: 2 });
  const restored = await waitFor(
    "the upgraded job RUNNING with parallelism 2, restored from a checkpoint",
    async () => {
      const j = await job();
      if (j?.state !== "RUNNING") return undefined;
      const details = await rest<{ vertices?: { parallelism: number }[] }>(`/jobs/${j.id}`);
      const parallelism = Math.max(0, ...(details?.vertices ?? []).map((v) => v.parallelism));
      const r = j.checkpoints.latest?.restored;
      return parallelism === 2 && r ? { r, id: j.id } : undefined;
    },
    300_000,
    500,
  );
  await waitFor(
    "ParallelismAligned reported",
    async () => condition(await status(), "ParallelismAligned")?.status === "True",
    60_000,
    500,
  );
  assert.equal(restored.id, before.id, "the same job id: the upgrade continued the job's HA metadata");
  assert.equal(restored.r.is_savepoint, false, "restored from a checkpoint");
  assert.ok(restored.r.id >= last, `restored ${restored.r.id}, latest before the upgrade ${last}`);
  assert.equal((await status())?.savepoints.length, savepoints, "no savepoint was taken");
  assert.equal((await podsNamed(`${NAME}-taskmanager-`)).length, 2);
});

async function podsNamed(prefix: string): Promise<Obj[]> {
  const l = await kubeGet<Obj>(env, `/api/v1/namespaces/${ws.namespace}/pods`);
  return (l?.items ?? []).filter(
    (p: Obj) => p.metadata.name.startsWith(prefix) && !p.metadata.deletionTimestamp,
  );
}

test("a LAST_STATE suspend keeps the HA metadata; with it removed, the resume blocks with a condition", async () => {
  const next = { ...spec, savepointNonce: 1, parallelism: 2 };
  const jobId = (await status())?.job.id;
  assert.ok(jobId);
  await checkpointAtLeast(0);
  await env.cp.admin.putDeployment(ws.id, NAME, { ...next, state: "SUSPENDED" });
  await waitFor("Suspended", async () => (await status())?.phase === "Suspended", 120_000, 500);
  const jobCm = `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-${jobId}-config-map`;
  assert.ok(await kubeGet(env, jobCm), "the suspend kept the job's HA metadata");
  // The HA metadata removed (by hand, or lost): the resume must not start without state.
  const del = await env.cluster.request("DELETE", jobCm);
  assert.ok(del.status < 300, `deleting ${jobCm}: ${del.status}`);
  await env.cp.admin.putDeployment(ws.id, NAME, next);
  const blocked = await waitFor(
    "the resume blocked with a condition",
    async () => {
      const st = await status();
      const c = condition(st, "SpecAligned");
      return c?.reason === "ResumeBlocked" ? st : undefined;
    },
    60_000,
    500,
  );
  assert.match(
    condition(blocked, "SpecAligned")?.message ?? "",
    /LAST_STATE needs the latest checkpoint.*does not exist/,
  );
  assert.equal((await podsNamed(`${NAME}-`)).length, 0, "nothing was started without state");
});
