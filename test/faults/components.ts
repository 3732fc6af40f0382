// Killing and restarting the local cluster's own processes (etcd, kube-apiserver, ...) for the fault
// campaign. A component is restarted with the exact command line, working directory and log file of
// the process it replaces (read from /proc), so it comes back as the same member with the same data,
// ports and certificates; extra flags can be appended for a while (e.g. a throttled API server).
import { readFileSync, readlinkSync } from "node:fs";
import type { Cluster } from "../cluster/index.ts";
import { ComponentProcess, isProcessAlive } from "../cluster/process.ts";

export type ComponentName = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";

interface Launch {
  command: string;
  args: string[];
  cwd: string;
  logPath: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cluster's components, killable and restartable; stop() ends the ones this object started. */
export class ClusterComponents {
  readonly #cluster: Cluster;
  readonly #launch = new Map<ComponentName, Launch>();
  readonly #pid = new Map<ComponentName, number>();
  readonly #started = new Map<ComponentName, ComponentProcess>();

  constructor(cluster: Cluster) {
    this.#cluster = cluster;
    for (const c of cluster.components) {
      const name = c.name as ComponentName;
      const argv = readFileSync(`/proc/${c.pid}/cmdline`, "utf8").split("\0").slice(0, -1);
      this.#launch.set(name, {
        command: argv[0]!,
        args: argv.slice(1),
        cwd: readlinkSync(`/proc/${c.pid}/cwd`),
        logPath: c.logPath,
      });
      this.#pid.set(name, c.pid);
    }
    if (!this.#launch.has("kube-apiserver")) {
      throw new Error("the fault campaign needs a local cluster it started itself, not an external one");
    }
  }

  /** etcd's client URL (its v3 JSON gateway answers there too). */
  etcdClientUrl(): string {
    const arg = this.#launch.get("etcd")?.args.find((a) => a.startsWith("--listen-client-urls="));
    if (!arg) throw new Error("etcd was started without --listen-client-urls");
    return arg.slice("--listen-client-urls=".length).split(",")[0]!;
  }

  pid(name: ComponentName): number {
    const pid = this.#pid.get(name);
    if (pid === undefined) throw new Error(`no component ${name} in this cluster`);
    return pid;
  }

  /**
   * Sends `signal` and, for a fatal one, waits until the process is gone: a SIGTERM is a graceful
   * stop (the API server drains for several seconds), followed by SIGKILL after 60 s.
   */
  async kill(name: ComponentName, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const pid = this.pid(name);
    process.kill(pid, signal);
    if (signal === "SIGSTOP" || signal === "SIGCONT") return;
    for (let i = 0; i < 1200 && isProcessAlive(pid); i++) await sleep(50);
    if (isProcessAlive(pid)) process.kill(pid, "SIGKILL");
    for (let i = 0; i < 200 && isProcessAlive(pid); i++) await sleep(50);
    if (isProcessAlive(pid)) throw new Error(`${name} (pid ${pid}) did not exit after ${signal} and SIGKILL`);
  }

  /** Starts `name` again as it was (plus `extraArgs`) and waits until it serves. */
  async start(name: ComponentName, extraArgs: string[] = []): Promise<void> {
    const l = this.#launch.get(name)!;
    if (isProcessAlive(this.pid(name))) throw new Error(`${name} still runs: kill it before starting it`);
    const p = new ComponentProcess(name, l.command, [...l.args, ...extraArgs], {
      cwd: l.cwd,
      logPath: l.logPath,
    });
    this.#started.set(name, p);
    this.#pid.set(name, p.pid);
    await this.#waitServing(name, p);
  }

  async #waitServing(name: ComponentName, p: ComponentProcess): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (!p.running) throw new Error(`${name} exited on restart: ${await p.describeExit()}`);
      if (name !== "kube-apiserver" && name !== "etcd") return;
      try {
        // etcd has no door of its own here: the API server's readiness covers its storage.
        if ((await this.#cluster.request("GET", "/readyz")).status === 200) return;
      } catch {
        // not serving yet
      }
      if (Date.now() > deadline) throw new Error(`${name} did not become ready within 90 s after a restart`);
      await sleep(200);
    }
  }

  /** Stops what this object started (the cluster's own stop() ends the original processes). */
  async stop(): Promise<void> {
    const order: ComponentName[] = ["kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"];
    for (const name of order) await this.#started.get(name)?.stop(5000);
  }
}
