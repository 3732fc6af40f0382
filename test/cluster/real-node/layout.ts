// The real node's fixed names and places on the host. Fixed, not per run, because the kubelet,
// containerd and the CNI plugins use some host-wide paths whatever they are configured with
// (the kubelet's device-plugin socket under /var/lib/kubelet, containerd's shim sockets under
// /run/containerd/s, the CNI result cache under /var/lib/cni): only one real node can run on a
// machine, and a crashed one must be found and swept away by name (teardown.ts).
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { cacheDir, kubeBinDir } from "../paths.ts";

export const NODE_NAME = "meridian-real-node";
/** The pods' bridge. The harness creates it (with the gateway address) and removes it. */
export const BRIDGE = "mrdn0";
/** Pod addresses; the bridge holds the first one, where the API server and the kubelet listen. */
export const POD_CIDR = "10.77.0.0/24";
export const GATEWAY_IP = "10.77.0.1";
export const SERVICE_CIDR = "10.96.0.0/16";
export const CLUSTER_DNS_IP = "10.96.0.10";
/** The harness's own nftables table: keeps pod traffic on the bridge. */
export const NFT_TABLE = "meridian-real-node";
/** Tables kube-proxy (nftables mode) creates, in families ip and ip6. */
export const KUBE_PROXY_NFT_TABLE = "kube-proxy";
/** Below every cgroup v1 hierarchy: the kubelet's --cgroup-root, holding kubepods. */
export const CGROUP_ROOT = "meridian-real-node";
export const STATE_DIR = "/var/lib/meridian-real-node";
export const RUN_DIR = "/run/meridian-real-node";
export const LOCK_FILE = join(RUN_DIR, "owner.json");
export const CONTAINERD_SOCKET = join(RUN_DIR, "containerd", "containerd.sock");
export const CNI_BIN_DIR = "/usr/lib/cni";
export const RUNC = "/usr/sbin/runc";
/** Host paths the node's programs create outside STATE_DIR and RUN_DIR whatever their configuration. */
export const FIXED_HOST_PATHS = [
  "/var/lib/kubelet",
  "/var/lib/cni",
  "/run/containerd",
  "/run/netns",
  "/var/log/containers",
  "/var/log/pods",
  "/opt/containerd",
  "/run/nri",
  "/etc/cni",
  "/opt/cni",
  "/run/kubernetes",
  "/usr/libexec/kubernetes",
];
/**
 * Kernel settings the kubelet changes on start (setupKernelTunables, when protectKernelDefaults
 * is off) and that the node's bridge needs: saved before start, put back on teardown.
 */
export const TOUCHED_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "net/ipv4/ip_forward",
  "net/bridge/bridge-nf-call-iptables",
  "net/netfilter/nf_conntrack_max",
];

export interface RealNodeBinaries {
  kubelet: string;
  kubeProxy: string;
  containerd: string;
  shim: string;
  ctr: string;
  coredns: string;
  pause: string;
  /** Holds containerd-shim-runc-v2, which containerd finds on PATH. */
  runtimeDir: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The real node's built programs; throws, saying how to build them, if any is missing. */
export function realNodeBinaries(): RealNodeBinaries {
  const runtimeDir = join(cacheDir(), "real-node", "bin");
  const kubeDir = kubeBinDir();
  const bins: RealNodeBinaries = {
    kubelet: join(kubeDir, "kubelet"),
    kubeProxy: join(kubeDir, "kube-proxy"),
    containerd: join(runtimeDir, "containerd"),
    shim: join(runtimeDir, "containerd-shim-runc-v2"),
    ctr: join(runtimeDir, "ctr"),
    coredns: join(runtimeDir, "coredns"),
    pause: join(runtimeDir, "pause"),
    runtimeDir,
  };
  const missing = Object.entries(bins).filter(([k, p]) => k !== "runtimeDir" && !executable(p));
  if (missing.length > 0) {
    throw new Error(
      `real node programs missing (${missing.map(([, p]) => p).join(", ")}): run ` +
        "bash test/cluster/build-kube.sh && bash test/cluster/real-node/build.sh",
    );
  }
  return bins;
}

/** The node's own executables, whose processes teardown kills wherever they run. */
export function realNodePrograms(bins: RealNodeBinaries): string[] {
  return [bins.kubelet, bins.kubeProxy, bins.containerd, bins.shim];
}
