// Configuration files of the real node's programs, each setting with the reason it differs from
// the default. Written into the node's state directories by node.ts.
import { join } from "node:path";
import {
  BRIDGE,
  CGROUP_ROOT,
  CLUSTER_DNS_IP,
  CNI_BIN_DIR,
  CONTAINERD_SOCKET,
  GATEWAY_IP,
  NFT_TABLE,
  NODE_NAME,
  POD_CIDR,
  RUN_DIR,
  RUNC,
  SERVICE_CIDR,
  STATE_DIR,
} from "./layout.ts";

export const PAUSE_IMAGE = "meridian.local/pause:3.10.1";
export const CNI_CONF_DIR = join(STATE_DIR, "cni", "net.d");
export const KUBELET_ROOT = join(STATE_DIR, "kubelet");

const toml = (v: unknown): string => JSON.stringify(v);

/** containerd v2 (config version 3): every path under the node's own directories. */
export function containerdConfig(): string {
  return `version = 3
root = ${toml(join(STATE_DIR, "containerd"))}
state = ${toml(join(RUN_DIR, "containerd"))}
# NRI would listen on /var/run/nri; tracing is unused. Neither is needed by the CRI.
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${toml(CONTAINERD_SOCKET)}

[ttrpc]
  address = ${toml(`${CONTAINERD_SOCKET}.ttrpc`)}

[plugins.'io.containerd.internal.v1.opt']
  path = ${toml(join(STATE_DIR, "opt"))}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    # Built from the kubernetes module's pause.c and imported, never pulled.
    sandbox = ${toml(PAUSE_IMAGE)}

[plugins.'io.containerd.cri.v1.runtime']
  # These VMs withhold CAP_SYS_RESOURCE: without this every sandbox fails with
  # "can't get final child's PID from pipe" (runc cannot lower oom_score_adj).
  restrict_oom_score_adj = true
  # Network namespaces under the state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        # Debian's runc; cgroupfs (no systemd on these machines), as the kubelet's cgroupDriver.
        BinaryName = ${toml(RUNC)}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${toml(CNI_BIN_DIR)}]
    conf_dir = ${toml(CNI_CONF_DIR)}
    max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
`;
}

/**
 * The pod network: Debian's bridge plugin on the harness's bridge. No masquerading, no default
 * route in pods (only the Service range, through the gateway) and isGateway off (the harness
 * gives the bridge its address, so the plugin never turns on forwarding host-wide): a pod can
 * reach other pods, the gateway address and Services, nothing beyond the machine.
 */
export function cniConfig(): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "meridian-real-node",
      plugins: [
        {
          type: "bridge",
          bridge: BRIDGE,
          isGateway: false,
          isDefaultGateway: false,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: join(STATE_DIR, "cni", "ipam"),
            ranges: [[{ subnet: POD_CIDR, gateway: GATEWAY_IP }]],
            routes: [{ dst: SERVICE_CIDR, gw: GATEWAY_IP }],
          },
        },
      ],
    },
    null,
    2,
  );
}

export interface KubeletFiles {
  caPath: string;
  certPath: string;
  keyPath: string;
  port: number;
  healthzPort: number;
  resolvConf: string;
}

export function kubeletConfig(f: KubeletFiles): Record<string, unknown> {
  return {
    kind: "KubeletConfiguration",
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    address: GATEWAY_IP,
    port: f.port,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: f.healthzPort,
    tlsCertFile: f.certPath,
    tlsPrivateKeyFile: f.keyPath,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: f.caPath },
    },
    authorization: { mode: "Webhook" },
    containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
    // These VMs run cgroup v1 (kubelet 1.35 refuses it unless told) without systemd.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot: `/${CGROUP_ROOT}`,
    failSwapOn: false,
    clusterDNS: [CLUSTER_DNS_IP],
    clusterDomain: "cluster.local",
    // No upstream name servers: pods resolve cluster names only, nothing leaves the machine.
    resolvConf: f.resolvConf,
    podLogsDir: join(STATE_DIR, "pod-logs"),
    volumePluginDir: join(STATE_DIR, "volume-plugins"),
    // Imported images cannot be pulled again: never garbage-collect them, never evict for disk.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    serializeImagePulls: false,
    maxPods: 60,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    nodeStatusUpdateFrequency: "4s",
    shutdownGracePeriod: "0s",
    logging: { format: "text", verbosity: 1 },
  };
}

export function kubeletArgs(opts: { configPath: string; kubeconfigPath: string }): string[] {
  return [
    `--config=${opts.configPath}`,
    `--kubeconfig=${opts.kubeconfigPath}`,
    `--root-dir=${KUBELET_ROOT}`,
    `--cert-dir=${join(STATE_DIR, "kubelet-pki")}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${GATEWAY_IP}`,
  ];
}

export function kubeProxyConfig(opts: {
  kubeconfigPath: string;
  healthzPort: number;
  metricsPort: number;
}): Record<string, unknown> {
  return {
    kind: "KubeProxyConfiguration",
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    clientConnection: { kubeconfig: opts.kubeconfigPath },
    // nftables: every rule in kube-proxy's own tables, which teardown deletes whole.
    mode: "nftables",
    hostnameOverride: NODE_NAME,
    bindAddress: GATEWAY_IP,
    healthzBindAddress: `127.0.0.1:${opts.healthzPort}`,
    metricsBindAddress: `127.0.0.1:${opts.metricsPort}`,
    clusterCIDR: POD_CIDR,
    detectLocalMode: "ClusterCIDR",
    nodePortAddresses: ["primary"],
    // Leave the host's conntrack settings alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    logging: { format: "text", verbosity: 1 },
  };
}

/** The harness's table: pod traffic may cross the bridge, and nothing from or to it goes elsewhere. */
export function nftRules(): string {
  return `table ip ${NFT_TABLE} {
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${BRIDGE}" oifname "${BRIDGE}" accept
    iifname "${BRIDGE}" drop
    oifname "${BRIDGE}" drop
  }
}
`;
}
