// startRealNode(): a real Kubernetes node beside the local control plane — containerd v2 with
// Debian's runc and CNI bridge plugin, the kubelet and kube-proxy (nftables mode) — registered
// with node credentials from the cluster CA, so the Node authorizer and NodeRestriction apply.
// The host must have been prepared (prepare.ts) before the API server started; stop() tears
// everything down (teardown.ts) and puts the host back as it was.
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@meridian/shared/log";
import type { OciArchive } from "../../images/oci.ts";
import type { Cluster } from "../handle.ts";
import { freePorts } from "../ports.ts";
import { ComponentProcess } from "../process.ts";
import { waitForComponents } from "../wait.ts";
import {
  CNI_CONF_DIR,
  cniConfig,
  containerdConfig,
  kubeletArgs,
  kubeletConfig,
  kubeProxyConfig,
} from "./config.ts";
import { corednsManifests, DNS_NAMESPACE } from "./dns.ts";
import { COREDNS_IMAGE, corednsImage, importImage, pauseImage } from "./images.ts";
import type { RealNodeBinaries } from "./layout.ts";
import { CONTAINERD_SOCKET, GATEWAY_IP, LOCK_FILE, NODE_NAME, RUN_DIR, STATE_DIR } from "./layout.ts";
import type { PreparedHost } from "./prepare.ts";
import { sweepRealNode } from "./teardown.ts";

const STOP_GRACE_MS = 5000;

export interface RealNode {
  readonly name: string;
  readonly components: readonly ComponentProcess[];
  /** Imports a single-layer OCI archive (test/images/oci.ts) for pods with imagePullPolicy: Never. */
  importImage(archive: OciArchive): Promise<void>;
  /** Stops every process, removes every trace; idempotent. */
  stop(): Promise<void>;
}

const waitFor = (
  what: string,
  check: () => Promise<boolean>,
  watched: ComponentProcess[],
  deadline: number,
) => waitForComponents("real node", what, check, watched, deadline, 200);

const nodeReady = async (cluster: Cluster) => {
  const res = await cluster.request("GET", `/api/v1/nodes/${NODE_NAME}`);
  if (res.status !== 200) return false;
  const node = JSON.parse(res.body) as { status?: { conditions?: { type: string; status: string }[] } };
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
};

/** CoreDNS from its imported image, rolled out and ready (it reaches the API through kube-proxy). */
async function startDns(cluster: Cluster, bins: RealNodeBinaries, deadline: number): Promise<void> {
  await importImage(bins, await corednsImage(bins));
  const input = corednsManifests(COREDNS_IMAGE)
    .map((m) => JSON.stringify(m))
    .join("\n");
  const applied = await cluster.kubectl(["apply", "-f", "-"], { input });
  if (applied.code !== 0) throw new Error(`applying CoreDNS failed: ${applied.stderr}`);
  const seconds = Math.max(10, Math.round((deadline - Date.now()) / 1000));
  const rollout = await cluster.kubectl(
    ["-n", DNS_NAMESPACE, "rollout", "status", "deployment/coredns", `--timeout=${seconds}s`],
    { timeoutMs: (seconds + 10) * 1000 },
  );
  if (rollout.code !== 0) {
    const pods = await cluster.kubectl(["-n", DNS_NAMESPACE, "describe", "pods", "-l", "k8s-app=kube-dns"]);
    throw new Error(`CoreDNS did not become ready: ${rollout.stderr}\n${pods.stdout}`);
  }
}

export async function startRealNode(opts: {
  cluster: Cluster;
  host: PreparedHost;
  logDir: string;
  logger: Logger;
  timeoutMs?: number;
}): Promise<RealNode> {
  const { cluster, host, logDir, logger } = opts;
  const { bins } = host;
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const procs: ComponentProcess[] = [];
  const started = performance.now();
  const dir = join(RUN_DIR, "config");
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const p of [...procs].reverse()) await p.stop(STOP_GRACE_MS);
      await sweepRealNode(host.programs, logger);
      if (existsSync(LOCK_FILE)) await rm(LOCK_FILE, { force: true });
    })();
    return stopping;
  };
  try {
    await Promise.all([mkdir(dir, { recursive: true }), mkdir(CNI_CONF_DIR, { recursive: true })]);
    const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics] = await freePorts(4);
    const [serving, kubeletKubeconfig, proxyKubeconfig] = await Promise.all([
      cluster.issueServingCert([NODE_NAME, GATEWAY_IP]),
      cluster.clientCertKubeconfig(`system:node:${NODE_NAME}`, ["system:nodes"]),
      cluster.clientCertKubeconfig("system:kube-proxy"),
      writeFile(join(dir, "containerd.toml"), containerdConfig()),
      writeFile(join(CNI_CONF_DIR, "10-meridian.conflist"), cniConfig()),
      writeFile(join(dir, "resolv.conf"), ""),
    ]);

    const env = { ...process.env, PATH: `${bins.runtimeDir}:/usr/sbin:/usr/bin:/sbin:/bin` };
    const containerd = new ComponentProcess(
      "containerd",
      bins.containerd,
      ["--config", join(dir, "containerd.toml")],
      {
        cwd: STATE_DIR,
        logPath: join(logDir, "containerd.log"),
        env,
      },
    );
    procs.push(containerd);
    await waitFor("the containerd socket", async () => existsSync(CONTAINERD_SOCKET), procs, deadline);
    await importImage(bins, await pauseImage(bins));

    await writeFile(
      join(dir, "kubelet.json"),
      JSON.stringify(
        kubeletConfig({
          caPath: cluster.caPath,
          certPath: serving.certPath,
          keyPath: serving.keyPath,
          port: kubeletPort!,
          healthzPort: kubeletHealthz!,
          resolvConf: join(dir, "resolv.conf"),
        }),
      ),
    );
    // No /usr/sbin on the kubelet's PATH: it then finds no iptables and creates none of its
    // iptables chains, which only an iptables-mode kube-proxy would use (ours runs nftables).
    const kubelet = new ComponentProcess(
      "kubelet",
      bins.kubelet,
      kubeletArgs({ configPath: join(dir, "kubelet.json"), kubeconfigPath: kubeletKubeconfig }),
      {
        cwd: STATE_DIR,
        logPath: join(logDir, "kubelet.log"),
        env: { ...process.env, PATH: "/usr/bin:/bin" },
      },
    );
    procs.push(kubelet);
    await writeFile(
      join(dir, "kube-proxy.json"),
      JSON.stringify(
        kubeProxyConfig({
          kubeconfigPath: proxyKubeconfig,
          healthzPort: proxyHealthz!,
          metricsPort: proxyMetrics!,
        }),
      ),
    );
    const kubeProxy = new ComponentProcess(
      "kube-proxy",
      bins.kubeProxy,
      [`--config=${join(dir, "kube-proxy.json")}`],
      {
        cwd: STATE_DIR,
        logPath: join(logDir, "kube-proxy.log"),
        env,
      },
    );
    procs.push(kubeProxy);
    await waitFor(`node ${NODE_NAME} Ready`, () => nodeReady(cluster), procs, deadline);
    await waitFor(
      "kube-proxy /healthz",
      async () => (await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`)).ok,
      procs,
      deadline,
    );
    await startDns(cluster, bins, deadline);
    logger.info({ durationMs: Math.round(performance.now() - started), node: NODE_NAME }, "real node ready");
    return {
      name: NODE_NAME,
      components: procs,
      importImage: (archive) => importImage(bins, archive),
      stop,
    };
  } catch (err) {
    await stop().catch((e: unknown) =>
      logger.error({ err: e }, "real node teardown after a failed start failed"),
    );
    throw err;
  }
}
