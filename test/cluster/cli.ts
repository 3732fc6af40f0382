// `npm run cluster -- up|env|status|down`: one local cluster in the background for development.
// `up` re-executes this file as a detached `serve` process that owns the cluster (and the node
// simulator, when it exists), writes .cache/cluster/state.json once ready and stays alive until
// SIGTERM; `down` sends that SIGTERM and waits until every component process is gone.
// `up --real-node` adds a real node (test/cluster/real-node); `down` then also sweeps whatever a
// killed serve process left of it (containers, mounts, cgroups, nftables tables, the bridge).
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@meridian/shared/log";
import { Command, InvalidArgumentError } from "commander";
import { loadNodeSimulator, startCluster } from "./cluster.ts";
import { KubeHttp } from "./http.ts";
import { cliStateDir } from "./paths.ts";
import { isProcessAlive, tailFile, watchdogPid } from "./process.ts";
import { realNodeBinaries, realNodePrograms } from "./real-node/layout.ts";
import { checkRealNodeHost } from "./real-node/prepare.ts";
import { sweepRealNode } from "./real-node/teardown.ts";
import {
  type ClusterState,
  readState,
  serveLogPath,
  stableKubeconfigPath,
  statePath,
  writeState,
} from "./state.ts";

const say = (line: string) => process.stdout.write(`${line}\n`);
const complain = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Alive and still running what we think it runs (guards against pid reuse after a crash). */
function isOurs(pid: number, needle: string): boolean {
  if (!isProcessAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle);
  } catch {
    return false;
  }
}

const serveAlive = (s: ClusterState) => isOurs(s.pid, "cli.ts");
/** Components (and the serve process's watchdog) still running. */
const liveComponents = (s: ClusterState) =>
  [...s.components, ...(s.watchdogPid ? [{ name: "watchdog.ts", pid: s.watchdogPid }] : [])].filter((c) =>
    isOurs(c.pid, c.name),
  );

async function forgetState(): Promise<void> {
  await Promise.all([rm(statePath(), { force: true }), rm(stableKubeconfigPath(), { force: true })]);
}

/** Kills what a dead serve process left behind (its watchdog normally already has). */
async function cleanStale(s: ClusterState): Promise<void> {
  for (const c of liveComponents(s)) if (c.name !== "watchdog.ts") process.kill(c.pid, "SIGKILL");
  if (s.realNode) {
    const done = await sweepRealNode(realNodePrograms(realNodeBinaries()));
    if (done.length > 0) say(`real node leftovers swept: ${done.join("; ")}`);
  }
  await rm(s.dir, { recursive: true, force: true, maxRetries: 3 });
  await forgetState();
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number ≥ 0");
  return n;
};

async function up(opts: { nodes?: number; timeout: number; realNode?: boolean }): Promise<number> {
  const existing = readState();
  if (existing && serveAlive(existing)) {
    say(`local cluster already running (pid ${existing.pid}, ${existing.server})`);
    say(`kubeconfig: ${existing.kubeconfig}\nexport KUBECONFIG=${existing.kubeconfig}`);
    return 0;
  }
  if (existing) await cleanStale(existing);
  const realNode = opts.realNode === true;
  if (realNode) {
    try {
      await checkRealNodeHost();
    } catch (err) {
      complain(`cannot start a real node here: ${(err as Error).message}`);
      return 1;
    }
  }
  const nodes = opts.nodes ?? (realNode ? 0 : 1);
  await mkdir(cliStateDir(), { recursive: true });
  const log = openSync(serveLogPath(), "w");
  const self = fileURLToPath(import.meta.url);
  const args = [self, "serve", `--nodes=${nodes}`, ...(realNode ? ["--real-node"] : [])];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  const started = Date.now();
  say(`starting local cluster (serve pid ${child.pid}, log ${serveLogPath()})...`);
  for (;;) {
    const s = readState();
    if (s && s.pid === child.pid) {
      child.unref();
      say(`local cluster ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${s.server}`);
      say(`kubeconfig: ${s.kubeconfig}\nexport KUBECONFIG=${s.kubeconfig}`);
      return 0;
    }
    if (exited !== undefined) {
      complain(
        `local cluster failed to start (serve exited with code ${exited}); ${serveLogPath()} ends with:`,
      );
      complain(await tailFile(serveLogPath(), 40));
      return 1;
    }
    if (Date.now() - started > opts.timeout * 1000) {
      complain(`local cluster not ready after ${opts.timeout} s; stopping it. See ${serveLogPath()}`);
      child.kill("SIGTERM");
      return 1;
    }
    await sleep(100);
  }
}

async function serve(opts: { nodes: number; realNode?: boolean }): Promise<void> {
  const logger = createLogger({ component: "cluster-serve" });
  let nodes = opts.nodes;
  if (nodes > 0 && !(await loadNodeSimulator())) {
    logger.info(
      { nodes },
      "node simulator (test/cluster/node-simulator/index.ts) not present yet; starting without nodes",
    );
    nodes = 0;
  }
  const logDir = join(cliStateDir(), "logs");
  await rm(logDir, { recursive: true, force: true });
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  try {
    cluster = await startCluster({ nodes, logDir, logger, realNode: opts.realNode === true });
  } catch (err) {
    logger.error({ err }, "local cluster failed to start");
    logger.flush();
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason: signal }, "stopping local cluster");
    try {
      await cluster.stop();
      await forgetState();
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => void stop("SIGHUP"));
  await copyFile(cluster.kubeconfigPath, stableKubeconfigPath());
  await writeState({
    pid: process.pid,
    kubeconfig: stableKubeconfigPath(),
    server: cluster.server,
    dir: cluster.dir,
    logDir,
    components: cluster.components.map((c) => ({ name: c.name, pid: c.pid })),
    watchdogPid: watchdogPid(),
    nodes,
    realNode: opts.realNode === true,
    startedAt: new Date().toISOString(),
  });
  logger.info({ url: cluster.server }, "local cluster serving until SIGTERM");
  setInterval(() => {}, 1 << 30);
}

async function status(): Promise<number> {
  const s = readState();
  if (!s) {
    say("local cluster: not running");
    return 1;
  }
  if (!serveAlive(s)) {
    say(`local cluster: not running (stale state from pid ${s.pid}; \`down\` cleans it up)`);
    return 1;
  }
  let readyz: string;
  try {
    const http = await KubeHttp.fromKubeconfigFile(s.kubeconfig);
    const res = await http.request("GET", "/readyz", undefined, { timeoutMs: 5000 });
    http.close();
    readyz = res.status === 200 ? res.body.trim() : `HTTP ${res.status}`;
  } catch (err) {
    readyz = `unreachable (${(err as Error).message})`;
  }
  say(
    `local cluster: running (pid ${s.pid}, since ${s.startedAt}, simulated nodes ${s.nodes}, real node ${s.realNode ? "yes" : "no"})`,
  );
  say(`server: ${s.server}  readyz: ${readyz}`);
  say(`kubeconfig: ${s.kubeconfig}  logs: ${s.logDir}`);
  for (const c of s.components)
    say(`  ${c.name} pid ${c.pid}: ${isOurs(c.pid, c.name) ? "running" : "GONE"}`);
  return readyz === "ok" ? 0 : 1;
}

async function down(opts: { timeout: number }): Promise<number> {
  const s = readState();
  if (!s) {
    say("local cluster: not running");
    return 0;
  }
  if (serveAlive(s)) process.kill(s.pid, "SIGTERM");
  const deadline = Date.now() + opts.timeout * 1000;
  while ((serveAlive(s) || liveComponents(s).length > 0) && Date.now() < deadline) await sleep(100);
  const left = liveComponents(s);
  if (serveAlive(s) || left.length > 0) {
    complain(
      `still running after ${opts.timeout} s, killing: ${[s.pid, ...left.map((c) => c.pid)].join(" ")}`,
    );
    if (serveAlive(s)) process.kill(s.pid, "SIGKILL");
  }
  await cleanStale(s);
  say("local cluster: stopped");
  return 0;
}

const program = new Command()
  .name("npm run cluster --")
  .description(
    "A local Kubernetes control plane (etcd, apiserver, controller-manager, scheduler) for development",
  );
program
  .command("up")
  .description("start the cluster in the background; prints the kubeconfig path")
  .option("--nodes <n>", "simulated nodes (default 1, or 0 with --real-node)", positiveInt)
  .option(
    "--real-node",
    "also start a real node: kubelet, containerd, runc, CNI, kube-proxy, CoreDNS (root; one per machine)",
  )
  .option("--timeout <seconds>", "give up after this long", positiveInt, 180)
  .action(async (o) => {
    process.exitCode = await up(o);
  });
program
  .command("serve", { hidden: true })
  .option("--nodes <n>", "simulated nodes", positiveInt, 1)
  .option("--real-node", "also start a real node")
  .action(serve);
program
  .command("env")
  .description('print `export KUBECONFIG=...` for the running cluster (eval "$(npm run -s cluster -- env)")')
  .action(() => {
    const s = readState();
    if (!s || !serveAlive(s)) {
      complain("local cluster: not running (npm run cluster -- up)");
      process.exitCode = 1;
      return;
    }
    say(`export KUBECONFIG=${s.kubeconfig}`);
  });
program
  .command("status")
  .description("whether the cluster runs, and its /readyz")
  .action(async () => {
    process.exitCode = await status();
  });
program
  .command("down")
  .description("stop the cluster and wait until every component process is gone")
  .option("--timeout <seconds>", "SIGKILL what is left after this long", positiveInt, 30)
  .action(async (o) => {
    process.exitCode = await down(o);
  });
await program.parseAsync();
