// `npm run bench -- recovery [--runs N] [--interval-ms MS]`: how Flink jobs recover (issue 13), on the
// local cluster with real Flink, the workspace's state in S3Proxy and Kubernetes HA through the real
// API server. One deployment (TopSpeedWindowing, parallelism 1, one TaskManager), the workspace agent
// in process. Measured, N times each:
//   - JobManager JVM SIGKILLed, HA on: time to the job RUNNING again, and the checkpoint distance
//     (latest completed before the kill minus the one restored; 0 = nothing lost);
//   - TaskManager JVM SIGKILLed, HA on: the same;
//   - the downtime of a LAST_STATE and of a SAVEPOINT upgrade (a Flink option changed): from the
//     last REST poll that saw the old job RUNNING to the first that sees the new one RUNNING;
//   - JobManager SIGKILLed, HA off (the deployment upgraded to `high-availability.type: NONE`): time
//     to RUNNING (the workspace agent recreates the pod) and the distance (restored from a savepoint);
//   - an in-place rescale in reactive mode (the deployment upgraded to `scaling.mode: reactive`, then
//     parallelism 1 -> 2 -> 1 with one slot per TaskManager): the downtime, from the last REST poll
//     that saw the job and all its vertices RUNNING at the old parallelism to the first that sees them
//     RUNNING at the new one,
//     and the time from the spec change to that (Flink's rescale waits set to 1 s).
// `--only rescale` measures just the last.
// Goals on this machine: JobManager kill -> RUNNING p50 <= 20 s with at most one checkpoint interval
// lost; LAST_STATE upgrade downtime <= 15 s.
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { DeploymentSpecInput } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { startS3Server } from "../cluster/s3/s3-server.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import { FlinkProbe } from "../workspace-agent/flink-probe.ts";
import {
  createWorkspace,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  reported,
  startAgent,
  startEnv,
  waitFor,
} from "../workspace-agent/harness.ts";
import { provisionStorage, seedHaStores } from "../workspace-agent/storage-workspace.ts";
import { percentile, report } from "./lib/stats.ts";

const BUCKET = "flink-state";
const WS = "bench";
const NAME = "orders";
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Sample {
  ms: number;
  distance: number;
}

function summary(what: string, samples: Sample[]): void {
  const ms = samples.map((x) => x.ms);
  const d = samples.map((x) => x.distance);
  report(
    `${what}: n=${samples.length} p50 ${s(percentile(ms, 50))} max ${s(Math.max(...ms))}` +
      (d.some((x) => x >= 0) ? `; checkpoints lost p50 ${percentile(d, 50)} max ${Math.max(...d)}` : "") +
      ` [${samples.map((x) => `${s(x.ms)}/${x.distance}`).join(", ")}]`,
  );
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "3" },
      "interval-ms": { type: "string", default: "2000" },
      only: { type: "string" },
    },
  });
  if (values.only !== undefined && values.only !== "rescale")
    throw new Error(`--only ${values.only}: the only part that runs alone is "rescale"`);
  const rescaleOnly = values.only === "rescale";
  const runs = Number(values.runs);
  const intervalMs = Number(values["interval-ms"]);
  const s3Dir = await mkdtemp(join(tmpdir(), "meridian-s3-"));
  const [env, s3] = await Promise.all([startEnv(), startS3Server({ dir: s3Dir })]);
  let agent: WorkspaceAgent | undefined;
  try {
    await s3.createBucket(BUCKET);
    const ws = await createWorkspace(env, WS);
    const settings = await provisionStorage(env, ws, s3, { bucket: BUCKET });
    await seedHaStores(s3, BUCKET, `workspaces/${WS}/${NAME}/ha`, NAME);
    agent = await startAgent(env, ws, settings);
    const probe = new FlinkProbe(env, ws.namespace, NAME);
    const spec: DeploymentBody = {
      image: FLINK_IMAGE,
      job: {
        jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar",
        entryClass: EXAMPLE_JOB,
      },
      parallelism: 1,
      jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
      taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
      flinkConfiguration: { "execution.checkpointing.interval": `${intervalMs} ms` },
      state: "RUNNING",
      upgradeMode: "LAST_STATE",
    };
    const put = (over: Partial<DeploymentSpecInput>) =>
      env.cp.admin.putDeployment(ws.id, NAME, { ...spec, ...over } as DeploymentBody);
    report(`# recovery bench: ${runs} runs each, checkpoint interval ${intervalMs} ms, load ${load()}`);
    await put({});
    await waitFor("the job RUNNING", async () => (await probe.job())?.state === "RUNNING", 300_000, 500);

    /** Kills a pod's JVM once a checkpoint newer than the last restore completed; time to RUNNING again. */
    const kill = async (pod: string): Promise<Sample> => {
      const before = (await probe.job())?.checkpoints.latest?.restored?.id ?? 0;
      const last = await waitFor(
        `a checkpoint completed after restore ${before}`,
        async () => {
          const j = await probe.job();
          const id = j?.checkpoints.latest?.completed?.id as number | undefined;
          return j?.state === "RUNNING" && id !== undefined && id > before ? id : undefined;
        },
        300_000,
        250,
      );
      const t0 = performance.now();
      const wall = Date.now();
      probe.sigkill(pod);
      // RUNNING again after a restore that happened after the kill.
      const restored = await waitFor(
        `${pod} recovered`,
        async () => {
          const j = await probe.job();
          const r = j?.checkpoints.latest?.restored;
          return j?.state === "RUNNING" && r && r.restore_timestamp > wall ? r : undefined;
        },
        300_000,
        250,
      );
      return { ms: performance.now() - t0, distance: Math.max(0, last - (restored.id as number)) };
    };

    /** The running job's incarnation (id and start time), or undefined while none runs. */
    const incarnation = async (): Promise<string | undefined> => {
      const j = await probe.job();
      if (j?.state !== "RUNNING") return undefined;
      const d = await probe.rest<{ "start-time": number }>(`/jobs/${j.id}`);
      return d ? `${j.id}@${d["start-time"]}` : undefined;
    };

    /** Applies `over` and measures how long no job is RUNNING (REST polled every 250 ms). */
    const downtime = async (over: Partial<DeploymentSpecInput>): Promise<Sample> => {
      await probe.checkpointAtLeast(1);
      const old = await incarnation();
      let lastSeen = performance.now();
      await put(over);
      for (;;) {
        const now = await incarnation();
        if (now !== undefined && now === old) lastSeen = performance.now();
        else if (now !== undefined) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      return { ms: performance.now() - lastSeen, distance: -1 };
    };

    /**
     * The running job's parallelism (the highest of its vertices), undefined unless the job and every
     * one of its vertices (all their tasks) are RUNNING: a job RUNNING with tasks still deploying is down.
     */
    const parallelism = async (): Promise<number | undefined> => {
      const j = await probe.job();
      if (j?.state !== "RUNNING") return undefined;
      type Details = { state: string; vertices: { parallelism: number; status: string }[] };
      const d = await probe.rest<Details>(`/jobs/${j.id}`);
      if (d?.state !== "RUNNING" || d.vertices.some((v) => v.status !== "RUNNING")) return undefined;
      return Math.max(...d.vertices.map((v) => v.parallelism));
    };

    /** Sets the parallelism (reactive mode: the TaskManager count); the downtime until the job runs at it. */
    const rescale = async (to: number): Promise<Sample & { totalMs: number }> => {
      await probe.checkpointAtLeast(1);
      const t0 = performance.now();
      let lastSeen = t0;
      await put({ parallelism: to });
      for (;;) {
        const p = await parallelism();
        if (p === to) break;
        if (p !== undefined) lastSeen = performance.now();
        if (performance.now() - t0 > 300_000) throw new Error(`no rescale to ${to} in 300 s (last ${p})`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const end = performance.now();
      return { ms: end - lastSeen, distance: -1, totalMs: end - t0 };
    };

    const rescales = async (): Promise<void> => {
      spec.scaling = { mode: "reactive" };
      spec.flinkConfiguration = {
        ...spec.flinkConfiguration,
        "jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling": "1 s",
        "jobmanager.adaptive-scheduler.executing.resource-stabilization-timeout": "1 s",
      };
      await probe.checkpointAtLeast(1); // a LAST_STATE upgrade needs one
      await put({});
      await waitFor(
        "the job RUNNING in reactive mode at parallelism 1",
        async () => {
          const aligned = (await reported(env, ws, NAME))?.conditions.find((c) => c.type === "SpecAligned");
          return aligned?.status === "True" && (await parallelism()) === 1;
        },
        300_000,
        500,
      );
      const up: (Sample & { totalMs: number })[] = [];
      const down: (Sample & { totalMs: number })[] = [];
      for (let i = 0; i < runs; i++) {
        up.push(await rescale(2));
        down.push(await rescale(1));
      }
      const total = (xs: { totalMs: number }[]) => xs.map((x) => s(x.totalMs)).join(", ");
      summary("in-place rescale 1 -> 2 TaskManagers (reactive) downtime", up);
      report(`  spec change -> running at parallelism 2: [${total(up)}]`);
      summary("in-place rescale 2 -> 1 TaskManagers (reactive) downtime", down);
      report(`  spec change -> running at parallelism 1: [${total(down)}]`);
    };
    if (rescaleOnly) {
      await rescales();
      report(`# load after: ${load()}`);
      return;
    }

    const tmHa: Sample[] = [];
    for (let i = 0; i < runs; i++) tmHa.push(await kill(`${NAME}-taskmanager-0`));
    summary("TaskManager SIGKILL -> RUNNING, HA on", tmHa);
    const jmHa: Sample[] = [];
    for (let i = 0; i < runs; i++) jmHa.push(await kill(probe.jm));
    summary("JobManager SIGKILL -> RUNNING, HA on", jmHa);

    /** `runs` upgrades in `mode`, each changing one Flink option. */
    const upgrades = async (mode: "LAST_STATE" | "SAVEPOINT"): Promise<Sample[]> => {
      spec.upgradeMode = mode;
      const out: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        spec.flinkConfiguration = { ...spec.flinkConfiguration, "pipeline.name": `${mode}-${i}` };
        out.push(await downtime({}));
      }
      return out;
    };
    summary("LAST_STATE upgrade downtime", await upgrades("LAST_STATE"));
    summary("SAVEPOINT upgrade downtime", await upgrades("SAVEPOINT"));

    // HA off: the same deployment upgraded (through a savepoint) to run without HA.
    spec.flinkConfiguration = { ...spec.flinkConfiguration, "high-availability.type": "NONE" };
    await put({});
    await waitFor(
      "the job RUNNING without HA",
      async () =>
        (await reported(env, ws, NAME))?.conditions.find((c) => c.type === "SpecAligned")?.status ===
          "True" && (await probe.job())?.state === "RUNNING",
      300_000,
      500,
    );
    const jmNoHa: Sample[] = [];
    for (let i = 0; i < runs; i++) jmNoHa.push(await kill(probe.jm));
    summary(
      "JobManager SIGKILL -> RUNNING, HA off (pod recreated, restored from the newest savepoint)",
      jmNoHa,
    );
    await rescales();
    report(`# load after: ${load()}`);
  } finally {
    await agent?.stop();
    await env.stop();
    await s3.stop();
    await rm(s3Dir, { recursive: true, force: true });
  }
}

function load(): string {
  return loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
}
