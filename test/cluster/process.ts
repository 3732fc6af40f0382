// Child processes of the local cluster: spawned with their output in a log file, stopped with
// SIGTERM then SIGKILL, and never outliving the Node process that started them (an 'exit' hook
// SIGKILLs what is left, and a watchdog process covers deaths no hook sees).
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  error?: Error;
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The last `lines` lines of a text file ("" if it cannot be read). Reads at most 64 KiB. */
export async function tailFile(path: string, lines = 30): Promise<string> {
  try {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, size - length);
      return buf.toString("utf8").split("\n").filter(Boolean).slice(-lines).join("\n");
    } finally {
      await handle.close();
    }
  } catch {
    return "";
  }
}

const live = new Set<ComponentProcess>();
let watchdog: ChildProcess | undefined;

function tellWatchdog(line: string): void {
  if (watchdog === undefined) {
    const script = join(dirname(fileURLToPath(import.meta.url)), "watchdog.ts");
    watchdog = spawn(process.execPath, [script], { stdio: ["pipe", "ignore", "ignore"], detached: false });
    watchdog.unref();
    (watchdog.stdin as Socket).unref();
    watchdog.stdin!.on("error", () => {});
    process.on("exit", () => {
      for (const p of live) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {}
      }
    });
  }
  watchdog.stdin!.write(`${line}\n`);
}

/** The pid of this process's watchdog, if one was started (it exits shortly after this process). */
export function watchdogPid(): number | undefined {
  return watchdog?.pid;
}

/** Announces a directory the watchdog removes if this process dies before removing it itself. */
export function guardDir(dir: string): void {
  tellWatchdog(`dir+ ${dir}`);
}

export function unguardDir(dir: string): void {
  tellWatchdog(`dir- ${dir}`);
}

export interface SpawnOptions {
  logPath: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** One long-running component (etcd, kube-apiserver, ...) with stdout and stderr in `logPath`. */
export class ComponentProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  readonly #child: ChildProcess;

  constructor(name: string, command: string, args: string[], opts: SpawnOptions) {
    this.name = name;
    this.logPath = opts.logPath;
    const fd = openSync(opts.logPath, "a");
    try {
      this.#child = spawn(command, args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ["ignore", fd, fd],
        detached: false,
      });
    } finally {
      closeSync(fd);
    }
    this.pid = this.#child.pid ?? -1;
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.#child.once("error", (error) => {
        if (this.#child.pid === undefined) resolve({ code: null, signal: null, error });
      });
      this.#child.once("exit", (code, signal) => resolve({ code, signal }));
    }).then((info) => {
      this.exit = info;
      live.delete(this);
      if (this.pid > 0) tellWatchdog(`pid- ${this.pid}`);
      return info;
    });
    if (this.pid > 0) {
      live.add(this);
      tellWatchdog(`pid+ ${this.pid}`);
    }
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.exit !== undefined) return this.exit;
    this.#child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#child.kill("SIGKILL");
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  /** "<name> exited with code N" plus the last lines of its log, for start-up failures. */
  async describeExit(lines = 30): Promise<string> {
    const e = this.exit;
    const how =
      e === undefined
        ? "is still running"
        : e.error
          ? `could not be started (${e.error.message})`
          : e.signal
            ? `was killed by ${e.signal} (exit code ${e.code})`
            : `exited with code ${e.code}`;
    const tail = await tailFile(this.logPath, lines);
    return `${this.name} ${how}; last ${lines} lines of ${this.logPath}:\n${tail || "(empty log)"}`;
  }
}
