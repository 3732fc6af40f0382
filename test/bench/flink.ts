// `npm run bench -- flink [--deployments N] [--steady-seconds S] [--no-restore]`: real Flink in the
// local cluster. Creates the example (examples/topspeed.yaml: JobManager + 2 TaskManagers) in N
// namespaces at once through the API server and measures, per deployment, the time from pod
// creation to JobManager Ready, to job RUNNING and to every task RUNNING, and the resident memory
// (VmRSS) of each JobManager and TaskManager JVM, right away and after S seconds of running. Then,
// on the first deployment: savepoint, stop-with-savepoint, and a new JobManager restoring it.
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  createNamespace,
  createObject,
  deletePod,
  exampleObjects,
  type FlinkTestCluster,
  getPod,
  jobManagerRest,
  rssKiB,
  startFlinkTestCluster,
} from "../cluster/flink/flink-harness.ts";
import { allTasksRunning, type FlinkRest, pollUntil } from "../cluster/flink/flink-rest.ts";
import { flinkVersion } from "../cluster/flink/image-handler.ts";

const JM = "topspeed-jobmanager";
const TMS = ["topspeed-taskmanager-0", "topspeed-taskmanager-1"];
const MIN = 60_000;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (kib: number | undefined) => (kib === undefined ? "gone" : `${Math.round(kib / 1024)} MiB`);
const out = (line: string) => process.stdout.write(`${line}\n`);

interface Timings {
  ns: string;
  ready: number;
  jobRunning: number;
  tasksRunning: number;
  rest: FlinkRest;
  jobId: string;
}

/** Creates the example's objects; resolves with the times (ms after `t0`) of its milestones. */
async function deploy(fc: FlinkTestCluster, ns: string, t0: number): Promise<Timings> {
  for (const o of exampleObjects(ns)) await createObject(fc.cluster, o);
  const rest = await jobManagerRest(fc.cluster, ns, JM, 5 * MIN);
  const ready = performance.now() - t0;
  let jobRunning = 0;
  const job = await pollUntil(
    `${ns}: all tasks RUNNING`,
    async () => {
      const jobs = await rest.jobs();
      if (!jobRunning && jobs.some((j) => j.state === "RUNNING")) jobRunning = performance.now() - t0;
      return jobs.find(allTasksRunning);
    },
    { timeoutMs: 5 * MIN, intervalMs: 250 },
  );
  return { ns, ready, jobRunning, tasksRunning: performance.now() - t0, rest, jobId: job.jid };
}

function rssLine(fc: FlinkTestCluster, ns: string): string {
  const rss = (pod: string) => fc.sim.podProcesses(ns, pod).map((pid) => `${pod} ${mib(rssKiB(pid))}`);
  return [JM, ...TMS].flatMap(rss).join(", ");
}

function totalRssMiB(fc: FlinkTestCluster, namespaces: string[]): number {
  const pids = namespaces.flatMap((ns) => [JM, ...TMS].flatMap((p) => fc.sim.podProcesses(ns, p)));
  return Math.round(pids.reduce((sum, pid) => sum + (rssKiB(pid) ?? 0), 0) / 1024);
}

async function restore(fc: FlinkTestCluster, t: Timings): Promise<void> {
  let t0 = performance.now();
  const sp = await t.rest.awaitSavepoint(t.jobId, await t.rest.triggerSavepoint(t.jobId), 3 * MIN);
  out(`savepoint (job keeps running): ${s(performance.now() - t0)} -> ${sp}`);
  t0 = performance.now();
  const target = join(fc.dataDir, "bench-stopped");
  const stopped = await t.rest.awaitSavepoint(
    t.jobId,
    await t.rest.stopWithSavepoint(t.jobId, target),
    3 * MIN,
  );
  out(`stop with savepoint: ${s(performance.now() - t0)}`);
  await deletePod(fc.cluster, t.ns, JM);
  await pollUntil(
    "old JobManager gone",
    async () => ((await getPod(fc.cluster, t.ns, JM)) ? undefined : true),
    {
      timeoutMs: 2 * MIN,
    },
  );
  const pod = exampleObjects(t.ns).find((o) => o.kind === "Pod" && o.metadata?.name === JM)!;
  const c = (pod as { spec: { containers: { args: string[] }[] } }).spec.containers[0]!;
  c.args.push("--fromSavepoint", stopped);
  t0 = performance.now();
  await createObject(fc.cluster, pod);
  const rest = await jobManagerRest(fc.cluster, t.ns, JM, 5 * MIN);
  const ready = performance.now() - t0;
  await pollUntil("restored job's tasks RUNNING", async () => (await rest.jobs()).find(allTasksRunning), {
    timeoutMs: 5 * MIN,
    intervalMs: 250,
  });
  out(
    `new JobManager --fromSavepoint (same TaskManagers): Ready ${s(ready)}, ` +
      `all tasks RUNNING ${s(performance.now() - t0)}`,
  );
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      deployments: { type: "string", default: "1" },
      "steady-seconds": { type: "string", default: "30" },
      "no-restore": { type: "boolean", default: false },
    },
  });
  const n = Number(values.deployments);
  const steady = Number(values["steady-seconds"]);
  if (!Number.isInteger(n) || n < 1) throw new Error("--deployments must be a whole number ≥ 1");
  out(`Flink ${flinkVersion()}: ${n} deployment(s) of 1 JobManager + 2 TaskManagers (TopSpeedWindowing)`);
  const fc = await startFlinkTestCluster();
  try {
    const namespaces = Array.from({ length: n }, (_, i) => `flink-bench-${i}`);
    for (const ns of namespaces) await createNamespace(fc.cluster, ns);
    for (const ns of namespaces) {
      await pollUntil(
        `${ns}: default ServiceAccount`,
        async () =>
          (await fc.cluster.request("GET", `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status === 200
            ? true
            : undefined,
        { timeoutMs: MIN },
      );
    }
    const t0 = performance.now();
    const all = await Promise.all(namespaces.map((ns) => deploy(fc, ns, t0)));
    for (const t of all) {
      out(
        `${t.ns}: from pod creation: JobManager Ready ${s(t.ready)}, job RUNNING ${s(t.jobRunning)}, ` +
          `all tasks RUNNING ${s(t.tasksRunning)}`,
      );
      out(`${t.ns}: RSS when running: ${rssLine(fc, t.ns)}`);
    }
    await new Promise((r) => setTimeout(r, steady * 1000));
    for (const t of all) out(`${t.ns}: RSS after ${steady} s more: ${rssLine(fc, t.ns)}`);
    out(`total RSS of ${all.length * 3} JVMs: ${totalRssMiB(fc, namespaces)} MiB`);
    if (!values["no-restore"]) await restore(fc, all[0]!);
  } finally {
    await fc.stop();
  }
}
