// `npm run bench -- workspace-agent [deployments=20] [--no-flink]`: the workspace agent as a real process
// (what its image runs: the Dockerfile's ENTRYPOINT flags and ENV with the bundle
// workspace-agent/dist/main.js, see test/images/runtime.ts) under its workspace's ServiceAccount, against the local
// cluster and the reference control plane. Its JobManager REST calls go to the Service DNS name,
// resolved through the node simulator's hosts file as in a pod.
//   (a) deployment PUT through the control plane's API → its JobManager and TaskManager pods exist:
//       p50/p95 over N deployments (goal p50 ≤ 150 ms). Their image is not in the simulator's map,
//       so no JVM starts.
//   (b) the workspace agent's resident memory with those N deployments (goal ≤ 100 MB)
//   (c) one real Flink deployment (TopSpeedWindowing): PUT → job RUNNING reported upward (report only)
// Exits non-zero when a goal is missed. Figures go to docs/performance.md, section "Workspace agent".
import { readFileSync } from "node:fs";
import {
  COMPONENT_JOBMANAGER,
  LABEL_COMPONENT,
  LABEL_DEPLOYMENT,
  MANAGED_BY_WORKSPACE_AGENT,
  managedBySelector,
} from "@meridian/shared/kube/labels";
import { PODS } from "@meridian/shared/kube/resources";
import { WatchCache } from "@meridian/shared/kube/watch-cache";
import {
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  SIMULATED as simulated,
  startEnv,
  waitFor,
} from "../workspace-agent/harness.ts";
import { percentile, rssMb } from "./lib/stats.ts";
import { spawnWorkspaceAgent, type WorkspaceAgentProcess } from "./lib/workspace-agent-process.ts";

export async function run(args: string[]): Promise<void> {
  const total = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
  const withFlink = !args.includes("--no-flink");
  const env = await startEnv();
  let child: WorkspaceAgentProcess | undefined;
  let failed = false;
  try {
    const ws = await createWorkspace(env, "bench");
    child = await spawnWorkspaceAgent(env, ws);
    const { pid, healthPort } = child;
    report(`    runtime: ${child.runtime}`);
    await env.cp.admin.waitForStreams({ stream: "workspace", target: ws.id }, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    report(`    resident memory idle, no deployments: ${rssMb(pid).toFixed(0)} MB`);

    // (a) one deployment at a time: PUT → JobManager and TaskManager pods exist.
    const seen = new Map<string, Set<string>>();
    const done = new Map<string, number>();
    const pods = new WatchCache({
      client: env.admin,
      type: PODS,
      namespace: ws.namespace,
      labelSelector: managedBySelector(MANAGED_BY_WORKSPACE_AGENT),
    });
    pods.on((e) => {
      if (e.type !== "added") return;
      const d = e.object.metadata?.labels?.[LABEL_DEPLOYMENT] ?? "";
      const set = seen.get(d) ?? new Set();
      set.add(e.object.metadata?.labels?.[LABEL_COMPONENT] ?? "");
      seen.set(d, set);
      if (set.size === 2 && !done.has(d)) done.set(d, performance.now());
    });
    pods.start();
    await pods.waitForSync();
    const latencies: number[] = [];
    for (let i = 0; i < total; i++) {
      const name = `lat-${i}`;
      const t0 = performance.now();
      await env.cp.admin.putDeployment(ws.id, name, simulated);
      await waitFor(`${name}'s pods`, () => done.has(name), 30_000, 2);
      latencies.push(done.get(name)! - t0);
    }
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    report(
      `(a) PUT deployment → JobManager + TaskManager pods exist, ${total} deployments: p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms (goal p50 ≤ 150 ms)`,
    );
    failed ||= p50 > 150;

    // (b) resident memory with `total` deployments, after a moment to settle.
    await new Promise((r) => setTimeout(r, 5000));
    const resident = rssMb(pid);
    report(`(b) resident memory with ${total} deployments: ${resident.toFixed(0)} MB (goal ≤ 100 MB)`);
    report(`    where it goes: ${memoryFigures(pid)}; ${await heapFigures(healthPort)}`);
    failed ||= resident > 100;

    // (c) a real Flink job: PUT → RUNNING in the status the control plane received.
    for (let i = 0; i < total; i++) await env.cp.admin.deleteDeployment(ws.id, `lat-${i}`);
    if (withFlink) await realFlink(env, ws.id, pods);
    await pods.stop();
  } finally {
    await child?.stop();
    await env.stop();
  }
  if (failed) {
    report("a goal was missed");
    process.exitCode = 1;
  }
}

/** V8 heap and external memory from the agent's own /metrics (prom-client's default metrics). */
async function heapFigures(port: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const mb = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)`, "m").exec(text);
    return m ? `${(Number(m[1]) / 1048576).toFixed(0)} MB` : "?";
  };
  return `heap used ${mb("nodejs_heap_size_used_bytes")} of ${mb("nodejs_heap_size_total_bytes")}, external ${mb("nodejs_external_memory_bytes")}`;
}

/** Resident memory split into file-backed pages (mostly the node binary) and anonymous memory. */
function memoryFigures(pid: number): string {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
  const mb = (n: number) => `${(n / 1024).toFixed(0)} MB`;
  return `file-backed ${mb(kb("Rss") - kb("Anonymous"))}, anonymous ${mb(kb("Anonymous"))}`;
}

function report(line: string): void {
  process.stdout.write(`workspace-agent bench: ${line}\n`);
}

/** (c) A real Flink job: PUT → RUNNING in the status the control plane received. */
async function realFlink(env: Env, workspaceId: string, pods: WatchCache): Promise<void> {
  const ws = { id: workspaceId };
  await waitFor("simulated deployments gone", () => pods.list().length === 0, 60_000);
  const t0 = performance.now();
  await env.cp.admin.putDeployment(ws.id, "flink", {
    image: FLINK_IMAGE,
    job: {
      jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar",
      entryClass: EXAMPLE_JOB,
    },
    parallelism: 1,
    jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
    taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
    state: "RUNNING",
  });
  await waitFor(
    "pods of the Flink deployment",
    () => pods.list((p) => p.metadata?.labels?.[LABEL_DEPLOYMENT] === "flink").length === 2,
    30_000,
    2,
  );
  const podsMs = performance.now() - t0;
  await waitFor(
    "job RUNNING reported",
    async () => (await env.cp.admin.getDeploymentStatus(ws.id, "flink"))?.job.state === "RUNNING",
    300_000,
    100,
  );
  const runningMs = performance.now() - t0;
  const jm = pods.list(
    (p) =>
      p.metadata?.labels?.[LABEL_DEPLOYMENT] === "flink" &&
      p.metadata?.labels?.[LABEL_COMPONENT] === COMPONENT_JOBMANAGER,
  );
  report(
    `(c) real Flink job: pods after ${podsMs.toFixed(0)} ms, RUNNING reported after ${(runningMs / 1000).toFixed(1)} s (JobManager ${jm[0]?.metadata?.name ?? "?"}; report only)`,
  );
  await env.cp.admin.deleteDeployment(ws.id, "flink");
  await waitFor("Flink pods gone", () => pods.list().length === 0, 120_000);
}
