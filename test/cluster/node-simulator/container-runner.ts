// One container of a simulated pod: launches it as a local process group (or,
// with no image-map entry, marks it running without a process), copies its
// output into the per-instance log, runs its probes, and restarts it according
// to the restart policy with back-off 1 s, 2 s, 4 s, 8 s, 10 s (cap), reset
// after 20 s of running. A real kubelet uses 10 s doubling to 5 min.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { V1Container, V1ContainerState } from "@kubernetes/client-node";
import type { Logger } from "@meridian/shared/log";
import type { ContainerLaunch } from "./image-map.ts";
import { ContainerLog } from "./log-store.ts";
import { ProbeLoop, type ProbeTarget, probeTiming } from "./probes.ts";
import { type ProcessTable, signalGroup } from "./processes.ts";

export const BACKOFF_INITIAL_MS = 1000;
export const BACKOFF_MAX_MS = 10_000;
export const BACKOFF_RESET_AFTER_MS = 20_000;

export type RestartPolicy = "Always" | "OnFailure" | "Never";

export interface RunnerDeps {
  logger: Logger;
  logDir: string;
  processes: ProcessTable;
  restartPolicy: RestartPolicy;
  /** Resolves the launch; undefined = no image-map entry (simulated); throws = config error, retried. */
  launch: () => Promise<ContainerLaunch | undefined>;
  probeTarget: (launch: ContainerLaunch) => ProbeTarget;
  /** Grace for a liveness-probe kill, ms. */
  killGraceMs: number;
  onChange: () => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

export class ContainerRunner {
  readonly container: V1Container;
  readonly #deps: RunnerDeps;
  restartCount = 0;
  ready = false;
  started = false;
  simulated = false;
  /** True once the container will not run again. */
  finished = false;
  state: V1ContainerState = { waiting: { reason: "ContainerCreating" } };
  lastState: V1ContainerState = {};
  pid: number | undefined;
  log: ContainerLog | undefined;
  /** Resolves when the container will not run again (terminal exit or stop). */
  readonly done: Promise<void>;
  #resolveDone!: () => void;
  readonly #abort = new AbortController();
  #child: ChildProcess | undefined;
  #probes: ProbeLoop[] = [];

  constructor(container: V1Container, deps: RunnerDeps, initialReason = "ContainerCreating") {
    this.container = container;
    this.state = { waiting: { reason: initialReason } };
    this.#deps = deps;
    this.done = new Promise((r) => {
      this.#resolveDone = r;
    });
  }

  get name(): string {
    return this.container.name;
  }

  /** True when the container exited for good with code 0. */
  get succeeded(): boolean {
    return this.state.terminated?.exitCode === 0;
  }

  #started = false;

  start(): void {
    if (this.#started || this.#abort.signal.aborted) return;
    this.#started = true;
    this.#loop()
      .catch((err) => this.#deps.logger.error({ err, container: this.name }, "container loop failed"))
      .finally(() => {
        this.finished = true;
        this.#resolveDone();
        this.#deps.onChange();
      });
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    let backoff = BACKOFF_INITIAL_MS;
    while (!signal.aborted) {
      let launch: ContainerLaunch | undefined;
      try {
        launch = await this.#deps.launch();
      } catch (err) {
        this.#set({ waiting: { reason: "CreateContainerConfigError", message: (err as Error).message } });
        await sleep(1000, signal);
        continue;
      }
      if (signal.aborted) break;
      if (!launch) {
        this.simulated = this.started = this.ready = true;
        this.#set({ running: { startedAt: new Date() } });
        await sleep(2 ** 31 - 1, signal);
        this.ready = false;
        this.#set({ terminated: { exitCode: 0, reason: "Completed", finishedAt: new Date() } });
        return;
      }
      const startedAt = Date.now();
      const result = await this.#runOnce(launch);
      if (signal.aborted) return;
      const restart =
        this.#deps.restartPolicy === "Always" ||
        (this.#deps.restartPolicy === "OnFailure" && result.exitCode !== 0);
      if (!restart) return;
      if (Date.now() - startedAt >= BACKOFF_RESET_AFTER_MS) backoff = BACKOFF_INITIAL_MS;
      const delay = backoff;
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      this.lastState = { terminated: result };
      this.#set({
        waiting: {
          reason: "CrashLoopBackOff",
          message: `back-off ${delay / 1000}s restarting failed container=${this.name}`,
        },
      });
      await sleep(delay, signal);
      // Like the kubelet, count a restart when the new instance is started, not when the old one exits.
      if (!signal.aborted) this.restartCount++;
    }
  }

  /** Runs one instance to its exit; returns its terminated state. */
  async #runOnce(launch: ContainerLaunch): Promise<NonNullable<V1ContainerState["terminated"]>> {
    const dir = join(this.#deps.logDir, this.name);
    mkdirSync(dir, { recursive: true });
    const log = new ContainerLog(join(dir, `${this.restartCount}.log`));
    this.log = log;
    const startedAt = new Date();
    let child: ChildProcess;
    try {
      child = spawn(launch.command, launch.args, {
        env: launch.env,
        cwd: launch.cwd,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
    } catch (err) {
      log.writeLine(`failed to start container: ${(err as Error).message}`);
      log.close();
      return this.#terminated(128, "StartError", startedAt, (err as Error).message);
    }
    this.#child = child;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        child.once("error", (error) => resolve({ code: 128, signal: null, error }));
        child.once("exit", (code, signal) => resolve({ code, signal }));
      },
    );
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    if (child.pid !== undefined) {
      this.pid = child.pid;
      this.#deps.processes.add(child.pid);
      log.attach(child.stdout!);
      log.attach(child.stderr!);
      this.#set({ running: { startedAt } });
      this.#startProbes(launch);
      this.#deps.logger.debug({ container: this.name, pid: child.pid }, "container started");
    }
    const exit = await exited;
    this.#stopProbes();
    this.ready = false;
    this.started = false;
    if (child.pid !== undefined) {
      // Whatever the main process left behind in its group goes with it.
      signalGroup(child.pid, "SIGKILL");
      this.#deps.processes.delete(child.pid);
    }
    this.#child = undefined;
    this.pid = undefined;
    if (exit.error) {
      log.writeLine(`failed to start container: ${exit.error.message}`);
      log.close();
      return this.#terminated(128, "StartError", startedAt, exit.error.message);
    }
    // Let the pipes drain (the group is dead, so they close promptly).
    await Promise.race([closed, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
    log.close();
    const signum = exit.signal ? (osSignals[exit.signal] ?? 9) : 0;
    const code = exit.code ?? 128 + signum;
    return this.#terminated(code, code === 0 ? "Completed" : "Error", startedAt);
  }

  #terminated(exitCode: number, reason: string, startedAt: Date, message?: string) {
    const t = { exitCode, reason, startedAt, finishedAt: new Date(), ...(message ? { message } : {}) };
    this.#set({ terminated: t });
    return t;
  }

  #startProbes(launch: ContainerLaunch): void {
    const c = this.container;
    const target = () => this.#deps.probeTarget(launch);
    const afterStarted = () => {
      this.started = true;
      if (c.readinessProbe) {
        this.#probes.push(
          new ProbeLoop(c.readinessProbe, probeTiming(c.readinessProbe, "readiness"), target, (ok) => {
            this.ready = ok;
            this.#deps.onChange();
          }),
        );
      } else {
        this.ready = true;
      }
      if (c.livenessProbe) {
        this.#probes.push(
          new ProbeLoop(c.livenessProbe, probeTiming(c.livenessProbe, "liveness"), target, (ok) => {
            if (!ok) this.#killForProbe("liveness");
          }),
        );
      }
      this.#deps.onChange();
    };
    if (c.startupProbe) {
      const loop = new ProbeLoop(c.startupProbe, probeTiming(c.startupProbe, "startup"), target, (ok) => {
        loop.stop();
        if (ok) afterStarted();
        else this.#killForProbe("startup");
      });
      this.#probes.push(loop);
    } else {
      afterStarted();
    }
  }

  #stopProbes(): void {
    for (const p of this.#probes) p.stop();
    this.#probes = [];
  }

  #killForProbe(kind: string): void {
    const child = this.#child;
    if (!child?.pid) return;
    this.#deps.logger.info({ container: this.name, probe: kind }, "probe failed; killing container");
    this.#stopProbes();
    void killGroup(child, this.#deps.killGraceMs);
  }

  /** Stops the container for good: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.#abort.abort();
    if (!this.#started) {
      this.finished = true;
      this.#resolveDone();
      return;
    }
    const child = this.#child;
    if (child) await killGroup(child, graceMs);
    await this.done;
  }

  #set(state: V1ContainerState): void {
    this.state = state;
    this.#deps.onChange();
  }
}

const osSignals: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGABRT: 6,
};

/** SIGTERM to the child's group, SIGKILL after `graceMs` if it has not exited. */
export async function killGroup(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  signalGroup(child.pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => {
    timer = setTimeout(r, graceMs);
  });
  await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup(child.pid, "SIGKILL");
    await exited;
  }
}
