// The workspace agent as a benchmark runs it: a child process running what its image runs (the
// Dockerfile's ENTRYPOINT node flags and ENV on the bundle workspace-agent/dist/main.js, see
// test/images/runtime.ts) under its workspace's ServiceAccount, its JobManager REST calls resolved
// through the node simulator's hosts file as in a pod.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { cacheDir } from "../../cluster/paths.ts";
import { TEST_SIGNING_PUBLIC_KEY } from "../../control-plane/signing.ts";
import { builtImageRuntime } from "../../images/runtime.ts";
import { ALLOWED_REGISTRIES, type Env, type Workspace } from "../../workspace-agent/harness.ts";

const PRELOAD = join(cacheDir(), "build", "hosts-preload.mjs");

export interface WorkspaceAgentProcess {
  child: ChildProcess;
  pid: number;
  healthPort: number;
  /** The command line and environment it runs with, for the report. */
  runtime: string;
  /** Its stdout lines, when started with `capture` (else stdout is inherited). */
  lines: string[];
  exited: Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  logLevel?: string;
  /** Extra environment (after the image's ENV), e.g. MERIDIAN_STATUS_INTERVAL_MS. */
  env?: Record<string, string>;
  /** Keep stdout lines in `lines` instead of passing them through. */
  capture?: boolean;
}

export async function spawnWorkspaceAgent(
  env: Env,
  ws: Workspace,
  opts: SpawnOptions = {},
): Promise<WorkspaceAgentProcess> {
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
  const child = spawn(process.execPath, [...nodeArgs, image.script, "run"], {
    env: {
      PATH: process.env.PATH ?? "",
      KUBECONFIG: ws.kubeconfig,
      MERIDIAN_CONTROL_PLANE_URL: env.cp.url,
      MERIDIAN_WORKSPACE_ID: ws.id,
      MERIDIAN_NAMESPACE: ws.namespace,
      MERIDIAN_POD_NAME: "bench-wsa",
      MERIDIAN_HEALTH_ADDR: `127.0.0.1:${healthPort}`,
      MERIDIAN_LOG_LEVEL: opts.logLevel ?? process.env.BENCH_LOG_LEVEL ?? "warn",
      MERIDIAN_FLINK_ALLOWED_REGISTRIES: ALLOWED_REGISTRIES.join(","),
      MERIDIAN_FLINK_POLL_INTERVAL_MS: "1000",
      MERIDIAN_STATUS_INTERVAL_MS: "5000",
      // Keys pinned, as every production install should have them: the desired state is verified and
      // the replay mark kept (decisions 46 and 50), with whatever that costs on the measured path.
      MERIDIAN_SIGNING_PUBLIC_KEYS: TEST_SIGNING_PUBLIC_KEY,
      ...runtimeEnv,
      ...opts.env,
      NODE_OPTIONS: [`--import=${PRELOAD}`, runtimeEnv.NODE_OPTIONS].filter(Boolean).join(" "),
      MERIDIAN_HOSTS_FILE: env.sim.hostsFile,
      MERIDIAN_POD_NAMESPACE: ws.namespace,
    },
    stdio: ["ignore", opts.capture ? "pipe" : "inherit", "inherit"],
  });
  const lines: string[] = [];
  let partial = "";
  child.stdout?.on("data", (b: Buffer) => {
    const parts = (partial + b.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const l of parts) if (l.trim()) lines.push(l);
  });
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once("exit", () => r())));
  return {
    child,
    pid: child.pid ?? 0,
    healthPort,
    runtime: `node ${nodeArgs.join(" ")} with ${envText.join(" ")}`,
    lines,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
