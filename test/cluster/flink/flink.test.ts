// Real Apache Flink in the local cluster: the example manifests (ConfigMap, JobManager Service,
// a standalone-job JobManager pod and two TaskManager pods, shaped like the workspace agent's) go
// through the real API server; the node simulator runs them as JVMs. The job runs, takes a
// savepoint, stops with a savepoint, a new JobManager restores from it, and deleting the pods
// leaves no JVM behind. Needs the Kubernetes binaries and `bash test/cluster/fetch-flink.sh`.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import {
  cmdline,
  createNamespace,
  createObject,
  deletePod,
  EXAMPLE_JOB_CLASS,
  exampleObjects,
  type FlinkTestCluster,
  getPod,
  jobManagerRest,
  logTail,
  startFlinkTestCluster,
} from "./flink-harness.ts";
import { allTasksRunning, type FlinkRest, type JobOverview, pollUntil } from "./flink-rest.ts";

const NS = "flink-it";
const JM = "topspeed-jobmanager";
const TMS = ["topspeed-taskmanager-0", "topspeed-taskmanager-1"];
const MIN = 60_000;

let fc: FlinkTestCluster;
/** Every JVM pid seen, with the pod it belonged to. */
const seen = new Map<number, string>();

const localPath = (location: string) => location.replace(/^file:(\/\/)?/, "");
const tails = async () =>
  (await Promise.all([JM, ...TMS].map((p) => logTail(fc.cluster, NS, p, 30).catch((e) => String(e))))).join(
    "\n",
  );

/** Waits until the JobManager's only job has every task running; fails with the pods' log tails. */
function runningJob(rest: FlinkRest, timeoutMs: number): Promise<JobOverview> {
  return pollUntil(
    "the job's tasks all RUNNING",
    async () => (await rest.jobs()).find((j) => allTasksRunning(j)),
    { timeoutMs, intervalMs: 1000, describe: tails },
  );
}

/** Records the pod's container processes and checks they are the expected Flink JVMs. */
function recordJvms(pod: string, mainClass: string): void {
  const pids = fc.sim.podProcesses(NS, pod);
  assert.equal(pids.length, 1, `pod ${pod} should run one process, has ${pids.join(",")}`);
  for (const pid of pids) {
    assert.match(cmdline(pid), new RegExp(`java .*${mainClass}`), `pid ${pid} of ${pod}`);
    seen.set(pid, pod);
  }
}

before(async () => {
  fc = await startFlinkTestCluster();
  await createNamespace(fc.cluster, NS);
  await pollUntil(
    "the default ServiceAccount",
    async () =>
      (await fc.cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/default`)).status === 200
        ? true
        : undefined,
    { timeoutMs: MIN },
  );
});

after(async () => {
  await fc?.stop();
});

describe("Flink in the local cluster", { timeout: 20 * MIN }, () => {
  let rest: FlinkRest;
  let job: JobOverview;
  let stoppedAt: string;
  const jmPod = () => exampleObjects(NS).find((o) => o.kind === "Pod" && o.metadata?.name === JM) as V1Pod;

  it("runs the example job from pods created through the API server", async () => {
    for (const o of exampleObjects(NS)) await createObject(fc.cluster, o);
    rest = await jobManagerRest(fc.cluster, NS, JM, 3 * MIN);
    job = await runningJob(rest, 5 * MIN);
    assert.equal(job.name, "CarTopSpeedWindowingExample");
    recordJvms(JM, "StandaloneApplicationClusterEntryPoint");
    for (const tm of TMS) recordJvms(tm, "TaskManagerRunner");
  });

  it("takes a savepoint that lands in the shared data dir", async () => {
    const trigger = await rest.triggerSavepoint(job.jid);
    const location = await rest.awaitSavepoint(job.jid, trigger, 3 * MIN);
    const dir = join(fc.dataDir, "flink-data", "topspeed", "savepoints");
    assert.ok(localPath(location).startsWith(`${dir}/`), `savepoint ${location} not under ${dir}`);
    assert.ok(existsSync(join(localPath(location), "_metadata")), `no _metadata in ${location}`);
    assert.equal((await rest.jobs()).find((j) => j.jid === job.jid)?.state, "RUNNING");
  });

  it("stops the job with a savepoint, after which the JobManager exits", async () => {
    const target = join(fc.dataDir, "stopped");
    const trigger = await rest.stopWithSavepoint(job.jid, target);
    stoppedAt = await rest.awaitSavepoint(job.jid, trigger, 3 * MIN);
    assert.ok(localPath(stoppedAt).startsWith(`${target}/`), `savepoint ${stoppedAt} not under ${target}`);
    assert.ok(existsSync(join(localPath(stoppedAt), "_metadata")));
    const pod = await pollUntil(
      `pod ${JM} Succeeded after the job finished`,
      async () => {
        const p = await getPod(fc.cluster, NS, JM);
        return p?.status?.phase === "Succeeded" ? p : undefined;
      },
      { timeoutMs: 2 * MIN, describe: () => logTail(fc.cluster, NS, JM) },
    );
    assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  });

  it("restores the stopped job's savepoint in a new JobManager", async () => {
    await deletePod(fc.cluster, NS, JM);
    await pollUntil(
      "the old JobManager pod gone",
      async () => ((await getPod(fc.cluster, NS, JM)) ? undefined : true),
      {
        timeoutMs: 2 * MIN,
      },
    );
    const pod = jmPod();
    const container = pod.spec!.containers[0]!;
    container.args = [...(container.args ?? []), "--fromSavepoint", stoppedAt];
    await createObject(fc.cluster, pod);
    rest = await jobManagerRest(fc.cluster, NS, JM, 3 * MIN);
    const restored = await runningJob(rest, 5 * MIN);
    assert.ok(container.args.includes(EXAMPLE_JOB_CLASS));
    recordJvms(JM, "StandaloneApplicationClusterEntryPoint");
    const stats = await pollUntil(
      "the restored savepoint in the checkpoint statistics",
      async () => {
        const s = await rest.checkpoints(restored.jid);
        return s.latest?.restored ? s.latest.restored : undefined;
      },
      { timeoutMs: MIN, describe: tails },
    );
    assert.equal(stats.is_savepoint, true);
    assert.equal(localPath(stats.external_path), localPath(stoppedAt));
  });

  it("ends every JVM when the pods are deleted", async () => {
    for (const p of [JM, ...TMS]) await deletePod(fc.cluster, NS, p);
    for (const p of [JM, ...TMS]) {
      await pollUntil(`pod ${p} gone`, async () => ((await getPod(fc.cluster, NS, p)) ? undefined : true), {
        timeoutMs: 2 * MIN,
        describe: tails,
      });
    }
    assert.ok(seen.size >= 4, `saw ${seen.size} JVMs`);
    const alive = [...seen].filter(([pid]) => cmdline(pid).includes("java"));
    assert.deepEqual(alive, [], "JVMs still running after their pods were deleted");
    assert.deepEqual(fc.sim.allProcesses(), []);
    const strays = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .filter(
        (pid) => cmdline(Number(pid)).includes(fc.cluster.dir) && cmdline(Number(pid)).includes("java"),
      );
    assert.deepEqual(strays, [], "java processes of this cluster left behind");
  });
});
