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
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  COMPONENT_JOBMANAGER,
  LABEL_COMPONENT,
  LABEL_DEPLOYMENT,
  MANAGED_BY_WORKSPACE_AGENT,
  managedBySelector,
} from "@meridian/shared/kube/labels";
import { PODS } from "@meridian/shared/kube/resources";
import { WatchCache } from "@meridian/shared/kube/watch-cache";
import { cacheDir } from "../cluster/paths.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import { builtImageRuntime } from "../images/runtime.ts";
import {
  ALLOWED_REGISTRIES,
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  startEnv,
  waitFor,
} from "../workspace-agent/harness.ts";

const PRELOAD = join(cacheDir(), "build", "hosts-preload.mjs");

const simulated: DeploymentBody = {
  image: "registry.meridian.test/flink-simulated:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "100m", memory: "256Mi" } },
  taskManager: { resources: { cpu: "100m", memory: "256Mi" }, taskSlots: 1 },
  state: "RUNNING",
  upgradeMode: "STATELESS",
};

export async function run(args: string[]): Promise<void> {
  const total = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
  const withFlink = !args.includes("--no-flink");
  const env = await startEnv();
  let child: ChildProcess | undefined;
  let failed = false;
  try {
    const ws = await createWorkspace(env, "bench");
    const healthPort = await freePort();
    const image = await builtImageRuntime("workspace-agent");
    // For experiments: BENCH_NODE_ARGS="--flag --flag2" replaces the ENTRYPOINT's node flags and
    // BENCH_ENV="K=V;K2=V2" overrides the image's ENV.
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? image.nodeArgs;
    const runtimeEnv: Record<string, string> = {
      ...image.env,
      ...Object.fromEntries(
        (process.env.BENCH_ENV ?? "")
          .split(";")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      ),
    };
    const envText = Object.entries(runtimeEnv).map(([k, v]) => `${k}=${v}`);
    report(`    runtime: node ${nodeArgs.join(" ")} with ${envText.join(" ")}`);
    child = spawn(process.execPath, [...nodeArgs, image.script, "run"], {
      env: {
        PATH: process.env.PATH ?? "",
        KUBECONFIG: ws.kubeconfig,
        MERIDIAN_CONTROL_PLANE_URL: env.cp.url,
        MERIDIAN_WORKSPACE_ID: ws.id,
        MERIDIAN_NAMESPACE: ws.namespace,
        MERIDIAN_POD_NAME: "bench-wsa",
        MERIDIAN_HEALTH_ADDR: `127.0.0.1:${healthPort}`,
        MERIDIAN_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
        MERIDIAN_FLINK_ALLOWED_REGISTRIES: ALLOWED_REGISTRIES.join(","),
        MERIDIAN_FLINK_POLL_INTERVAL_MS: "1000",
        MERIDIAN_STATUS_INTERVAL_MS: "5000",
        ...runtimeEnv,
        NODE_OPTIONS: [`--import=${PRELOAD}`, runtimeEnv.NODE_OPTIONS].filter(Boolean).join(" "),
        MERIDIAN_HOSTS_FILE: env.sim.hostsFile,
        MERIDIAN_POD_NAMESPACE: ws.namespace,
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const pid = child.pid ?? 0;
    await env.cp.admin.waitForStreams({ stream: "workspace", target: ws.id }, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    report(`    resident memory idle, no deployments: ${rss(pid).toFixed(0)} MB`);

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
    const rssMb = rss(pid);
    report(`(b) resident memory with ${total} deployments: ${rssMb.toFixed(0)} MB (goal ≤ 100 MB)`);
    report(`    where it goes: ${memoryFigures(pid)}; ${await heapFigures(healthPort)}`);
    failed ||= rssMb > 100;

    // (c) a real Flink job: PUT → RUNNING in the status the control plane received.
    for (let i = 0; i < total; i++) await env.cp.admin.deleteDeployment(ws.id, `lat-${i}`);
    if (withFlink) await realFlink(env, ws.id, pods);
    await pods.stop();
  } finally {
    child?.kill("SIGTERM");
    await new Promise((r) => (child && child.exitCode === null ? child.once("exit", r) : r(undefined)));
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

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Resident memory split into file-backed pages (mostly the node binary) and anonymous memory. */
function memoryFigures(pid: number): string {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
  const mb = (n: number) => `${(n / 1024).toFixed(0)} MB`;
  return `file-backed ${mb(kb("Rss") - kb("Anonymous"))}, anonymous ${mb(kb("Anonymous"))}`;
}

function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
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
