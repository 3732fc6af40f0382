// `npm run demo` (= `node test/demo/cli.ts up`) and `npm run demo:down`: the whole system on one
// machine. `up` starts a detached `serve` process holding the local cluster, the node simulator
// and the reference control plane (state in .cache/demo/), then installs the chart, creates a
// workspace and a Flink job through the control plane, waits until the job runs and prints what to
// try next. `down` stops everything and checks that no process is left.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { clusterFromKubeconfig } from "../cluster/index.ts";
import { tailFile } from "../cluster/process.ts";
import { realNodeBinaries, realNodePrograms } from "../cluster/real-node/layout.ts";
import { sweepRealNode } from "../cluster/real-node/teardown.ts";
import { missingInfrastructure, NotBuiltError } from "../e2e/prerequisites.ts";
import { helmBinary } from "../helm/helm-binary.ts";
import { nextSteps } from "./next-steps.ts";
import { commandLine, demoProcesses, isAlive, isOurs, kill } from "./processes.ts";
import { Progress, StepError } from "./progress.ts";

import {
  type DemoState,
  demoDir,
  kubeconfigPath,
  type Part,
  readState,
  serveLogPath,
  statePath,
  systemDir,
} from "./state.ts";
import { runDemoSteps } from "./steps.ts";

const SELF = fileURLToPath(import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const serveAlive = (s: DemoState) => isOurs(s.pid, "demo/cli.ts");
const hostsFile = () => join(systemDir(), "node-simulator", "hosts");
const serveLogTail = async () => `last lines of ${serveLogPath()}:\n${await tailFile(serveLogPath(), 25)}`;

const parts = (realNode: boolean): Array<[Part, string]> => [
  ["cluster", "local Kubernetes cluster (etcd, kube-apiserver, controller-manager, scheduler v1.35.4)"],
  realNode
    ? [
        "real node",
        "real node (kubelet, containerd, runc, CNI, kube-proxy, CoreDNS; images built and imported)",
      ]
    : ["node simulator", "node simulator (pods run as local processes, Flink images as local JVMs)"],
  ["control plane", "reference control plane (SQLite in .cache/demo/)"],
  ...(realNode
    ? []
    : ([
        ["s3 server", "S3 server for the Flink state (S3Proxy, its files in .cache/demo/system/s3/)"],
      ] as Array<[Part, string]>)),
];

/** Starts serve unless it runs, then one step per part as serve reports it ready. */
async function startServe(p: Progress, realNode: boolean): Promise<DemoState> {
  let state = readState();
  if (state && !serveAlive(state)) {
    await cleanUp(state);
    state = undefined;
  }
  let exited: number | null | undefined;
  if (!state) {
    await mkdir(demoDir(), { recursive: true });
    await rm(statePath(), { force: true });
    const log = openSync(serveLogPath(), "w");
    const args = [SELF, "serve", ...(realNode ? ["--real-node"] : [])];
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log] });
    closeSync(log);
    child.once("exit", (code) => {
      exited = code;
    });
    child.unref();
  }
  for (const [part, title] of parts(state?.realNode ?? realNode)) {
    await p.step(
      title,
      async (note) => {
        const started = Date.now();
        for (;;) {
          const s = readState();
          if (s?.error) throw new Error(s.error);
          if (s?.ready.includes(part)) return;
          if (exited !== undefined) throw new Error(`the demo's serve process exited with code ${exited}`);
          if (Date.now() - started > 180_000) throw new Error(`${part} not ready after 180 s`);
          note(s ? `serve pid ${s.pid}` : "starting");
          await sleep(100);
        }
      },
      serveLogTail,
    );
  }
  for (;;) {
    const s = readState();
    if (s?.error) throw new Error(s.error);
    if (s?.kubeconfig && s.controlPlaneUrl) return s;
    if (exited !== undefined || !s)
      throw new Error(`the demo's serve process stopped; ${await serveLogTail()}`);
    await sleep(100);
  }
}

async function up(realNode: boolean): Promise<number> {
  const started = Date.now();
  const p = new Progress();
  p.line(`meridian demo: the whole system on this machine (state and logs in ${demoDir()})`);
  try {
    await p.step("prerequisites (Kubernetes binaries, Flink runtime, Java)", async () => {
      const missing = missingInfrastructure();
      if (missing.length > 0) throw new NotBuiltError(missing);
    });
    const state = await startServe(p, realNode);
    const cluster = await clusterFromKubeconfig(state.kubeconfig!);
    try {
      const result = await runDemoSteps(p, cluster, state.controlPlaneUrl!, state.s3);
      p.line(nextSteps(state, result, (Date.now() - started) / 1000, await helmBinary()));
    } finally {
      await cluster.stop();
    }
    return 0;
  } catch (err) {
    const step = err instanceof StepError ? err.step : "starting the demo";
    process.stderr.write(`\ndemo failed at step "${step}":\n${(err as Error).message}\n`);
    if (err instanceof StepError && err.logTail) process.stderr.write(`\n${err.logTail}\n`);
    const running = readState();
    process.stderr.write(
      running && serveAlive(running)
        ? `\nThe cluster and control plane keep running for a look (KUBECONFIG=${kubeconfigPath()}); ` +
            "`npm run demo` again retries the remaining steps, `npm run demo:down` stops everything.\n"
        : `\nNothing is left running. The demo's own log: ${serveLogPath()}\n`,
    );
    return 1;
  }
}

/** Removes the state and kills whatever a dead serve process left behind. */
async function cleanUp(s: DemoState | undefined): Promise<string[]> {
  const left = demoProcesses({ hostsFile: hostsFile(), clusterDir: s?.clusterDir });
  if (s?.watchdogPid && isOurs(s.watchdogPid, "watchdog.ts"))
    left.push({ pid: s.watchdogPid, cmd: "watchdog" });
  for (const proc of left) kill(proc.pid);
  if (s?.realNode) {
    const swept = await sweepRealNode(realNodePrograms(realNodeBinaries()));
    if (swept.length > 0) process.stdout.write(`real node leftovers swept: ${swept.join("; ")}\n`);
  }
  if (s?.clusterDir) await rm(s.clusterDir, { recursive: true, force: true, maxRetries: 3 });
  await rm(statePath(), { force: true });
  await rm(kubeconfigPath(), { force: true });
  return left.map((proc) => `${proc.pid} ${proc.cmd.slice(0, 120)}`);
}

async function down(timeoutSeconds: number): Promise<number> {
  const s = readState();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (s && serveAlive(s)) {
    say(`stopping the demo (serve pid ${s.pid}): control plane, pods, cluster...`);
    process.kill(s.pid, "SIGTERM");
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (serveAlive(s) && Date.now() < deadline) await sleep(100);
    if (serveAlive(s)) {
      say(`serve still running after ${timeoutSeconds} s: killing it`);
      kill(s.pid);
    }
  } else {
    say(s ? `the demo's serve process (pid ${s.pid}) is gone; cleaning up` : "demo: not running");
  }
  await sleep(300); // the watchdog exits right after its owner
  const killed = await cleanUp(s);
  if (killed.length > 0)
    say(`killed ${killed.length} process(es) the demo left behind:\n  ${killed.join("\n  ")}`);
  await sleep(200);
  const still = demoProcesses({ hostsFile: hostsFile(), clusterDir: s?.clusterDir }).filter((p) =>
    isAlive(p.pid),
  );
  if (still.length > 0) {
    process.stderr.write(`still running: ${still.map((p) => `${p.pid} ${commandLine(p.pid)}`).join("; ")}\n`);
    return 1;
  }
  say("demo: stopped, no process left");
  return 0;
}

async function status(): Promise<number> {
  const s = readState();
  if (!s || !serveAlive(s)) {
    process.stdout.write("demo: not running (npm run demo)\n");
    return 1;
  }
  process.stdout.write(
    `demo: running (serve pid ${s.pid} since ${s.startedAt}; ready: ${s.ready.join(", ")})\n`,
  );
  if (s.kubeconfig) {
    const cluster = await clusterFromKubeconfig(s.kubeconfig);
    const pods = await cluster.kubectl(["get", "pods", "-A", "-o", "wide"]);
    process.stdout.write(pods.stdout + pods.stderr);
    await cluster.stop();
  }
  process.stdout.write(
    `control plane: ${s.controlPlaneUrl ?? "starting"}\nkubeconfig: ${s.kubeconfig ?? "starting"}\n`,
  );
  return 0;
}

const program = new Command()
  .name("node test/demo/cli.ts")
  .description("Meridian on a local cluster, in one command");
program
  .command("up")
  .description("start cluster, control plane, agents, a workspace and a Flink job; print what to try next")
  .option(
    "--real-node",
    "run the pods on a real node (kubelet, containerd, runc; root) instead of the simulator",
  )
  .action(async (o: { realNode?: boolean }) => {
    process.exitCode = await up(o.realNode === true);
  });
program
  .command("down")
  .description("stop everything the demo started and check that no process is left")
  .option("--timeout <seconds>", "SIGKILL what is left after this long", (v) => Number(v), 60)
  .action(async (o: { timeout: number }) => {
    process.exitCode = await down(o.timeout);
  });
program
  .command("status")
  .description("whether the demo runs, and its pods")
  .action(async () => {
    process.exitCode = await status();
  });
program
  .command("serve", { hidden: true })
  .option("--real-node")
  .action(async (o: { realNode?: boolean }) => (await import("./serve.ts")).serve(o));
await program.parseAsync();
