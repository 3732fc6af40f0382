// Strict teardown of the real node, by name, so that it works the same after a clean stop, a
// failed start and a crashed harness: every process of the node and of its containers, every
// mount under its directories, its cgroups, its nftables tables, the bridge and its veths, the
// sysctls the kubelet changed, and the host paths its programs created. What the host had before
// (saved by saveHostState at start) is put back; nothing else is touched.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "@meridian/shared/log";
import { cgroupHierarchies, processesRunning, readSysctl } from "./host.ts";
import {
  BRIDGE,
  CGROUP_ROOT,
  FIXED_HOST_PATHS,
  KUBE_PROXY_NFT_TABLE,
  NFT_TABLE,
  RUN_DIR,
  STATE_DIR,
  TOUCHED_SYSCTLS,
} from "./layout.ts";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOST_STATE_FILE = `${STATE_DIR}.host-before.json`;

/** What teardown puts back: the host's sysctls and which fixed paths existed before the node. */
export interface SavedHostState {
  sysctls: Record<string, string>;
  fixedPaths: string[];
}

/** Records the host as it is before the node starts (kept on disk, so a crash loses nothing). */
export async function saveHostState(): Promise<SavedHostState> {
  if (existsSync(HOST_STATE_FILE)) {
    throw new Error(`${HOST_STATE_FILE} exists: a previous real node was not torn down; sweep it first`);
  }
  const sysctls: Record<string, string> = {};
  for (const key of TOUCHED_SYSCTLS) {
    const v = readSysctl(key);
    if (v !== undefined) sysctls[key] = v;
  }
  const state = { sysctls, fixedPaths: FIXED_HOST_PATHS.filter((p) => existsSync(p)) };
  await writeFile(HOST_STATE_FILE, JSON.stringify(state));
  return state;
}

async function savedHostState(): Promise<SavedHostState | undefined> {
  try {
    return JSON.parse(await readFile(HOST_STATE_FILE, "utf8")) as SavedHostState;
  } catch {
    return undefined;
  }
}

function cgroupDirs(): string[] {
  return cgroupHierarchies()
    .map((h) => join(h, CGROUP_ROOT))
    .filter((d) => existsSync(d));
}

/** Every cgroup below `dir`, deepest first. */
function cgroupTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(dir);
  return out;
}

function pidsIn(dir: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupTree(dir)) {
    try {
      for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (l) pids.add(Number(l));
    } catch {}
  }
  return [...pids];
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

/** SIGKILLs every process in the node's cgroups (frozen first, so none can fork away) and waits. */
async function killContainers(): Promise<void> {
  const dirs = cgroupDirs();
  const freezer = dirs.find((d) => d.includes("/freezer/"));
  const setFreezer = (state: string) => {
    if (!freezer) return;
    try {
      writeFileSync(join(freezer, "freezer.state"), state);
    } catch {}
  };
  setFreezer("FROZEN");
  for (const d of dirs) for (const pid of pidsIn(d)) kill(pid);
  setFreezer("THAWED");
  const deadline = Date.now() + 15_000;
  while (dirs.some((d) => pidsIn(d).length > 0)) {
    if (Date.now() > deadline) {
      const left = dirs.flatMap((d) => pidsIn(d));
      throw new Error(`real node teardown: processes ${left.join(", ")} still in its cgroups after SIGKILL`);
    }
    for (const d of dirs) for (const pid of pidsIn(d)) kill(pid);
    await sleep(100);
  }
}

/** Mount points at or below `roots`, deepest first. */
export function mountsUnder(roots: string[]): string[] {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ")[4]!.replace(/\\040/g, " "));
  return points
    .filter((p) => roots.some((r) => p === r || p.startsWith(`${r}/`)))
    .reverse()
    .sort((a, b) => b.length - a.length);
}

async function unmountAll(roots: string[]): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(roots);
    if (points.length === 0) return;
    for (const p of points) {
      try {
        await run("umount", [p]);
      } catch {
        await run("umount", ["--lazy", p]).catch(() => {});
      }
    }
  }
  const left = mountsUnder(roots);
  if (left.length > 0) throw new Error(`real node teardown: could not unmount ${left.join(", ")}`);
}

async function ignoreMissing(cmd: string, args: string[]): Promise<void> {
  try {
    await run(cmd, args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    if (!/No such file|does not exist|Cannot find device|not found/i.test(stderr)) {
      throw new Error(`${cmd} ${args.join(" ")} failed: ${stderr.trim()}`, { cause: err });
    }
  }
}

/**
 * Removes every trace of the real node. `programs` are the node's own executables (kubelet,
 * kube-proxy, containerd and its shim), whose processes are killed wherever they run.
 * Returns what it found and removed, for the log.
 */
export async function sweepRealNode(programs: string[], logger?: Logger): Promise<string[]> {
  const done: string[] = [];
  const procs = processesRunning(programs);
  for (const p of procs) kill(p.pid);
  if (procs.length > 0) done.push(`killed ${procs.map((p) => `${p.exe} (${p.pid})`).join(", ")}`);
  await killContainers();
  const saved = await savedHostState();
  // Only what the node made: a fixed path the host had before (another containerd's
  // /run/containerd, say) may hold mounts that are not ours.
  const owned = [
    STATE_DIR,
    RUN_DIR,
    ...FIXED_HOST_PATHS.filter((p) => saved && !saved.fixedPaths.includes(p)),
  ];
  const mounted = mountsUnder(owned);
  await unmountAll(owned);
  if (mounted.length > 0) done.push(`unmounted ${mounted.length} mounts`);
  for (const d of cgroupDirs()) {
    for (const c of cgroupTree(d)) rmdirSync(c);
    done.push(`removed cgroup ${d}`);
  }
  const tables = (await run("nft", ["list", "tables"])).stdout;
  for (const [family, name] of [
    ["ip", NFT_TABLE],
    ["ip", KUBE_PROXY_NFT_TABLE],
    ["ip6", KUBE_PROXY_NFT_TABLE],
  ] as const) {
    if (tables.includes(`table ${family} ${name}\n`) || tables.endsWith(`table ${family} ${name}`)) {
      await ignoreMissing("nft", ["delete", "table", family, name]);
      done.push(`deleted nftables table ${family} ${name}`);
    }
  }
  if (existsSync(`/sys/class/net/${BRIDGE}`)) {
    for (const port of readdirSync(`/sys/class/net/${BRIDGE}/brif`)) {
      await ignoreMissing("ip", ["link", "delete", port]);
    }
    await ignoreMissing("ip", ["link", "delete", BRIDGE]);
    done.push(`deleted bridge ${BRIDGE}`);
  }
  if (saved) {
    for (const [key, value] of Object.entries(saved.sysctls)) {
      if (readSysctl(key) !== value) {
        writeFileSync(join("/proc/sys", key), value);
        done.push(`restored sysctl ${key}=${value}`);
      }
    }
    for (const p of FIXED_HOST_PATHS) {
      if (!saved.fixedPaths.includes(p) && existsSync(p)) {
        await rm(p, { recursive: true, force: true });
        done.push(`removed ${p}`);
      }
    }
  }
  for (const d of [STATE_DIR, RUN_DIR]) {
    if (existsSync(d)) {
      await rm(d, { recursive: true, force: true, maxRetries: 3 });
      done.push(`removed ${d}`);
    }
  }
  await rm(HOST_STATE_FILE, { force: true });
  if (done.length > 0) logger?.info({ done }, "real node swept");
  return done;
}
