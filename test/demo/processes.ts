// Finding the demo's processes without trusting names: the serve process is checked by pid and
// command line (against pid reuse); pod processes by the hosts file the node simulator put in
// their environment; the cluster's components by their own temporary directory on their command
// line. Nothing else on the machine matches.
import { readdirSync, readFileSync } from "node:fs";

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The process's command line with spaces, or undefined if it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/** Alive and still running a command line containing `needle`. */
export function isOurs(pid: number, needle: string): boolean {
  return isAlive(pid) && (commandLine(pid)?.includes(needle) ?? false);
}

export interface FoundProcess {
  pid: number;
  cmd: string;
}

function environ(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  } catch {
    return []; // another user's process, or gone
  }
}

/**
 * Processes the demo started and that are still alive: pod processes (the node simulator gives
 * each one MERIDIAN_HOSTS_FILE=<its hosts file>, inherited by their children) and the cluster's
 * components (their command lines name the cluster's own temporary directory).
 */
export function demoProcesses(o: { hostsFile: string; clusterDir?: string | undefined }): FoundProcess[] {
  const marker = `MERIDIAN_HOSTS_FILE=${o.hostsFile}`;
  const found: FoundProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmd = commandLine(pid);
    if (cmd === undefined) continue;
    const component = o.clusterDir !== undefined && cmd.includes(`${o.clusterDir}/`);
    if (component || environ(pid).includes(marker)) found.push({ pid, cmd });
  }
  return found;
}

/** SIGKILL, ignoring processes that are already gone. */
export function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}
