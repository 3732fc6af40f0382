// Before the real node's API server starts: check that a real node can run here (refusing with
// the reason otherwise), sweep what a crashed earlier one left, record the host as it is, take
// the one-node-per-machine lock, and create the pods' bridge (the API server and the kubelet
// listen on its address, so it must exist first), the harness's nftables table and the cgroup root.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "@meridian/shared/log";
import { isProcessAlive } from "../process.ts";
import { nftRules } from "./config.ts";
import { cgroupHierarchies, foreignKubelets } from "./host.ts";
import {
  BRIDGE,
  CGROUP_ROOT,
  CNI_BIN_DIR,
  GATEWAY_IP,
  LOCK_FILE,
  POD_CIDR,
  type RealNodeBinaries,
  RUN_DIR,
  RUNC,
  realNodeBinaries,
  realNodePrograms,
  STATE_DIR,
} from "./layout.ts";
import { saveHostState, sweepRealNode } from "./teardown.ts";

const run = promisify(execFile);

/** CAP_SYS_ADMIN (mounts, namespaces) and CAP_NET_ADMIN (bridge, nftables), from /proc/self/status. */
const NEEDED_CAPS: [string, number][] = [
  ["CAP_SYS_ADMIN", 21],
  ["CAP_NET_ADMIN", 12],
];

export interface PreparedHost {
  bins: RealNodeBinaries;
  /** The node's own executables, whose processes teardown kills wherever they run. */
  programs: string[];
}

function missingCaps(): string[] {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("CapEff:"));
  const eff = BigInt(`0x${line?.split(/\s+/)[1] ?? "0"}`);
  return NEEDED_CAPS.filter(([, bit]) => (eff & (1n << BigInt(bit))) === 0n).map(([n]) => n);
}

async function hasCommand(cmd: string): Promise<boolean> {
  try {
    await run(cmd, ["--version"]);
    return true;
  } catch {
    return false;
  }
}

/** The owner of a live real node on this machine, if any. */
export function liveOwner(): { pid: number; startedAt: string } | undefined {
  try {
    const owner = JSON.parse(readFileSync(LOCK_FILE, "utf8")) as { pid: number; startedAt: string };
    return isProcessAlive(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Throws a named reason when a real node cannot run here; returns the node's programs. */
export async function checkRealNodeHost(uid = process.getuid?.()): Promise<PreparedHost> {
  if (uid !== 0) {
    throw new Error(
      "a real node needs root (it mounts, creates cgroups, a bridge and nftables rules): run as root",
    );
  }
  const caps = missingCaps();
  if (caps.length > 0) throw new Error(`a real node needs ${caps.join(" and ")}, which this process lacks`);
  const owner = liveOwner();
  if (owner) {
    throw new Error(
      `another real node runs on this machine (owner pid ${owner.pid}, since ${owner.startedAt}); ` +
        "only one fits (fixed host paths, cgroups, bridge): stop it first (npm run cluster -- down)",
    );
  }
  const missing: string[] = [];
  if (!existsSync(RUNC)) missing.push(`${RUNC} (Debian package runc)`);
  if (!existsSync(join(CNI_BIN_DIR, "bridge")))
    missing.push(`${CNI_BIN_DIR}/bridge (containernetworking-plugins)`);
  if (!(await hasCommand("nft"))) missing.push("nft (nftables)");
  if (missing.length > 0) throw new Error(`a real node needs ${missing.join(", ")}: apt-get install them`);
  if (cgroupHierarchies().length === 0) throw new Error("no cgroup file system under /sys/fs/cgroup");
  const bins = realNodeBinaries();
  const foreign = foreignKubelets([bins.kubelet]);
  if (foreign.length > 0) {
    throw new Error(
      `a kubelet not started by this harness runs here (${foreign.join(", ")}): a real node would clash with it`,
    );
  }
  return { bins, programs: realNodePrograms(bins) };
}

/** Copies cpuset.cpus/mems from the parent, which cgroup v1 needs before a task can join. */
function initCpuset(dir: string): void {
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    const parent = join(dir, "..", f);
    if (existsSync(parent) && readFileSync(join(dir, f), "utf8").trim() === "")
      copyFileSync(parent, join(dir, f));
  }
}

export async function prepareRealNodeHost(logger: Logger): Promise<PreparedHost> {
  const host = await checkRealNodeHost();
  await sweepRealNode(host.programs, logger);
  await saveHostState();
  await mkdir(RUN_DIR, { recursive: true });
  await mkdir(STATE_DIR, { recursive: true });
  await writeFile(LOCK_FILE, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
  const prefix = POD_CIDR.split("/")[1];
  await run("ip", ["link", "add", BRIDGE, "type", "bridge"]);
  await run("ip", ["addr", "add", `${GATEWAY_IP}/${prefix}`, "dev", BRIDGE]);
  await run("ip", ["link", "set", BRIDGE, "up"]);
  // Forwarding on the bridge only (a Service address turned into another pod's address crosses
  // it); the host-wide net.ipv4.ip_forward stays as it is.
  writeFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/forwarding`, "1");
  const rules = join(RUN_DIR, "nftables.conf");
  await writeFile(rules, nftRules());
  await run("nft", ["-f", rules]);
  for (const h of cgroupHierarchies()) {
    const dir = join(h, CGROUP_ROOT);
    mkdirSync(dir, { recursive: true });
    if (h.endsWith("/cpuset") || h.includes("cpuset")) initCpuset(dir);
  }
  return host;
}

/** Undoes prepareRealNodeHost when the cluster fails before the node starts. */
export async function abandonRealNodeHost(host: PreparedHost, logger: Logger): Promise<void> {
  try {
    await sweepRealNode(host.programs, logger);
  } finally {
    await rm(LOCK_FILE, { force: true });
  }
}
