// Runs beside a process that owns cluster components and cleans up after it if it dies without
// doing so itself (SIGKILL, a crash, a signal with no handler). Its stdin is a pipe from the owner;
// the owner announces what it owns, one line each:
//   pid+ <pid>   pid- <pid>   dir+ <path>   dir- <path>
// When stdin ends the owner is gone: SIGKILL every announced pid still alive, wait for them, remove
// every announced directory, exit. No polling, no prctl: the kernel closes the pipe for us.
import { readFileSync, rmSync } from "node:fs";

const pids = new Set<number>();
const dirs = new Set<string>();

// Ctrl-C reaches the whole process group; stay alive to clean up after the owner.
process.on("SIGINT", () => {});
process.on("SIGHUP", () => {});

function alive(pid: number): boolean {
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

function handle(line: string): void {
  const space = line.indexOf(" ");
  if (space < 0) return;
  const verb = line.slice(0, space);
  const arg = line.slice(space + 1);
  if (verb === "pid+") pids.add(Number(arg));
  else if (verb === "pid-") pids.delete(Number(arg));
  else if (verb === "dir+") dirs.add(arg);
  else if (verb === "dir-") dirs.delete(arg);
}

let buffered = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  buffered += chunk;
  for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
    handle(buffered.slice(0, nl));
    buffered = buffered.slice(nl + 1);
  }
});
process.stdin.on("end", async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  const deadline = Date.now() + 5000;
  while ([...pids].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {}
  }
  process.exit(0);
});
