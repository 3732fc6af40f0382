// What the real node may change on the host, read as plain lists so that a snapshot taken before
// `up` and one taken after `down` can be compared line by line (host.test in real-node.test.ts),
// and so that teardown knows what to put back (sysctls) and what it must not remove (fixed paths
// that existed before).
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { FIXED_HOST_PATHS, TOUCHED_SYSCTLS } from "./layout.ts";

const run = promisify(execFile);

export interface HostSnapshot {
  sysctls: Record<string, string>;
  /** FIXED_HOST_PATHS that exist. */
  fixedPaths: string[];
  /** Network interfaces by name. */
  links: string[];
  /** "<interface> <address/prefix>" */
  addresses: string[];
  /** `ip route show table all`, one route a line. */
  routes: string[];
  /** "<family> <table>" of every nftables table. */
  nftTables: string[];
  /** "<mount point> <type>" of every mount. */
  mounts: string[];
  /** Directories right below each cgroup hierarchy, "<hierarchy>/<dir>". */
  cgroups: string[];
  /** Named network namespaces (/run/netns). */
  netns: string[];
  /** Processes running one of `programs`, "<pid> <exe>". */
  processes: string[];
}

export function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(join("/proc/sys", key), "utf8").trim();
  } catch {
    return undefined;
  }
}

async function lines(cmd: string, args: string[]): Promise<string[]> {
  try {
    const { stdout } = await run(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** The pids and executables of processes running one of `programs` (absolute paths). */
export function processesRunning(programs: string[]): { pid: number; exe: string }[] {
  const out: { pid: number; exe: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${entry}/exe`).replace(/ \(deleted\)$/, "");
    } catch {
      continue;
    }
    if (programs.includes(exe)) out.push({ pid: Number(entry), exe });
  }
  return out;
}

/** "<pid> <exe>" of kubelet processes running another program than `ours`. */
export function foreignKubelets(ours: string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = readlinkSync(`/proc/${entry}/exe`).replace(/ \(deleted\)$/, "");
      if (exe.endsWith("/kubelet") && !ours.includes(exe)) out.push(`${entry} ${exe}`);
    } catch {}
  }
  return out;
}

export function cgroupHierarchies(): string[] {
  const root = "/sys/fs/cgroup";
  if (existsSync(join(root, "cgroup.controllers"))) return [root]; // cgroup v2
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.isSymbolicLink())
    .map((e) => join(root, e.name));
}

export async function snapshotHost(programs: string[]): Promise<HostSnapshot> {
  const sysctls: Record<string, string> = {};
  for (const key of TOUCHED_SYSCTLS) {
    const v = readSysctl(key);
    if (v !== undefined) sysctls[key] = v;
  }
  const [links, addresses, routes, nftTables] = await Promise.all([
    lines("ip", ["-o", "link", "show"]).then((ls) => ls.map((l) => l.split(":")[1]!.trim().split("@")[0]!)),
    lines("ip", ["-o", "addr", "show"]).then((ls) =>
      ls.map((l) => {
        const f = l.split(/\s+/);
        return `${f[1]} ${f[3]}`;
      }),
    ),
    lines("ip", ["route", "show", "table", "all"]),
    lines("nft", ["list", "tables"]),
  ]);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      return `${f[4]} ${f[sep + 1]}`;
    });
  const cgroups = cgroupHierarchies().flatMap((h) =>
    readdirSync(h, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${h}/${e.name}`),
  );
  return {
    sysctls,
    fixedPaths: FIXED_HOST_PATHS.filter((p) => existsSync(p)),
    links,
    addresses,
    routes,
    nftTables,
    mounts,
    cgroups,
    netns: existsSync("/run/netns") ? readdirSync("/run/netns") : [],
    processes: processesRunning(programs).map((p) => `${p.pid} ${p.exe}`),
  };
}

/** Lines in `after` that `before` lacks and the reverse, per field; empty when the host is as it was. */
export function diffHost(before: HostSnapshot, after: HostSnapshot): string[] {
  const out: string[] = [];
  for (const key of Object.keys(before) as (keyof HostSnapshot)[]) {
    if (key === "sysctls") {
      for (const [k, v] of Object.entries(before.sysctls)) {
        if (after.sysctls[k] !== v) out.push(`sysctl ${k}: was ${v}, now ${after.sysctls[k]}`);
      }
      continue;
    }
    const b = new Set(before[key]);
    const a = new Set(after[key]);
    for (const x of a) if (!b.has(x)) out.push(`${key}: left behind ${x}`);
    for (const x of b) if (!a.has(x)) out.push(`${key}: gone ${x}`);
  }
  return out;
}
