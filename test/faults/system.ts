// The system the fault campaign breaks, every part real and every part breakable by real means:
//  - the local cluster (etcd, kube-apiserver, controller-manager, scheduler) with restartable
//    components (components.ts);
//  - two simulated nodes, each its own node simulator so each can be lost on its own: `sim-agents-0`
//    (tainted, runs only the two agent replicas) reaches the API server through a TCP fault proxy,
//    `sim-node-0` runs the workspace agent and Flink (real JVMs) directly;
//  - the reference control plane as its own process (SIGKILL-able), on a fixed port and database,
//    serving HTTPS with a certificate of a campaign CA, which both agents reach through a
//    password-protected HTTP CONNECT proxy (killable, and started again on its port);
//  - the agent installed with the chart, as a customer would.
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Logger, silentLogger } from "@meridian/shared/log";
import { CertificateAuthority } from "../cluster/certs.ts";
import { type ConnectProxy, startConnectProxy } from "../cluster/connect-proxy.ts";
import { flinkImageHandler } from "../cluster/flink/image-handler.ts";
import { type Cluster, startCluster } from "../cluster/index.ts";
import { defaultImageMap, type NodeSimulator, startNodeSimulator } from "../cluster/node-simulator/index.ts";
import { freePort } from "../cluster/ports.ts";
import { ClusterComponents } from "./components.ts";
import { type ControlPlaneProcess, startControlPlaneProcess } from "./control-plane-process.ts";
import { type FaultProxy, startFaultProxy } from "./proxy.ts";
import { campaignFlinkHome, verifyJobJar } from "./verify-job.ts";

export const AGENTS_NODE = "sim-agents-0";
/** Short-lived workspace credentials, so a control plane down for longer than one fits in a scenario. */
export const WORKSPACE_TOKEN_TTL_SECONDS = 120;
export const WORKERS_NODE = "sim-node-0";
/** What every CONNECT to the campaign's proxy must carry (its password is searched for in every log). */
export const CP_PROXY_AUTH = { user: "meridian", password: "campaign-proxy-3f9a61c2" };
/** Taint and label that keep the agents, and only them, on AGENTS_NODE. */
export const AGENTS_TAINT = { key: "meridian.dev/faults", value: "agents", effect: "NoSchedule" } as const;

export interface CampaignSystem {
  dir: string;
  cluster: Cluster;
  components: ClusterComponents;
  /** Between the agents' node (both agent replicas) and the kube-apiserver. */
  apiProxy: FaultProxy;
  cp: ControlPlaneProcess;
  /** The CA that signed the control plane's certificate (PEM), given to the agents. */
  caPem: string;
  /** The HTTP CONNECT proxy between both agents and the control plane. */
  cpProxy: RestartableProxy;
  /** Where the Flink pods' /flink-data lands (savepoints, the verification job's output). */
  dataDir: string;
  agentsNode(): NodeSimulator;
  workersNode(): NodeSimulator;
  /** Kills every process of a node's pods with SIGKILL and stops its simulator (the node is lost). */
  loseNode(which: "agents" | "workers"): Promise<void>;
  /**
   * Replaces the lost node: its pods are force-deleted (as after a node loss: the machine and its
   * containers are gone) and a new simulator registers the node again; controllers recreate the pods.
   */
  restoreNode(which: "agents" | "workers"): Promise<void>;
  /** Every directory holding pod logs, for the secret scan. */
  logDirs(): string[];
  stop(): Promise<void>;
}

/** The campaign's CONNECT proxy: the one running now, killed (every tunnel cut) and started again. */
export interface RestartableProxy {
  /** `http://user:password@127.0.0.1:<port>`: what HTTPS_PROXY is set to. */
  readonly url: string;
  /** Tunnels to the control plane the proxy running now opened. */
  tunnels(): number;
  /** Stops it: every tunnel is cut, the port refuses until start(). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** Starts everything but the agent (see install.ts); stops what started on failure. */
export async function startCampaignSystem(
  dir: string,
  logger: Logger = silentLogger(),
): Promise<CampaignSystem> {
  await mkdir(dir, { recursive: true });
  const jar = await verifyJobJar();
  const flinkHome = await campaignFlinkHome(jar);
  const dataDir = join(dir, "flink-data");
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      for (const stop of [...stops].reverse())
        await stop().catch((err) => logger.warn({ err }, "stop failed"));
    })();
    return stopping;
  };
  try {
    const cluster = await startCluster({ nodes: 0, logDir: join(dir, "cluster-logs"), logger });
    stops.push(() => cluster.stop());
    const components = new ClusterComponents(cluster);
    stops.push(() => components.stop());
    const apiserver = new URL(cluster.server);
    const apiProxy = await startFaultProxy({
      target: { host: apiserver.hostname, port: Number(apiserver.port) },
    });
    stops.push(() => apiProxy.close());
    const proxiedKubeconfig = join(dir, "agents-node.kubeconfig");
    const kc = JSON.parse(readFileSync(cluster.kubeconfigPath, "utf8"));
    kc.clusters[0].cluster.server = `https://127.0.0.1:${apiProxy.port}`;
    await writeFile(proxiedKubeconfig, JSON.stringify(kc), { mode: 0o600 });

    const imageMap = defaultImageMap([flinkImageHandler({ dataDir, flinkHome })]);
    // Pod IP blocks drawn per run (127.<block>.x.y), so that two campaigns on one machine do not
    // hand out the same addresses; each node counts up from its own, one block per (re)start.
    const base = 16 + Math.floor(Math.random() * 110);
    const nodes = {
      agents: { prefix: "sim-agents", kubeconfigPath: proxiedKubeconfig, block: base + 120, sim: undefined },
      workers: { prefix: "sim-node", kubeconfigPath: cluster.kubeconfigPath, block: base, sim: undefined },
    } as Record<
      "agents" | "workers",
      { prefix: string; kubeconfigPath: string; block: number; sim: NodeSimulator | undefined }
    >;
    const startNode = async (which: "agents" | "workers") => {
      const n = nodes[which];
      // A fresh block of pod IPs per start: an address the lost node gave out is never reused.
      process.env.MERIDIAN_POD_IP_BLOCK = String(n.block++);
      try {
        n.sim = await startNodeSimulator({
          cluster,
          kubeconfigPath: n.kubeconfigPath,
          nodes: 1,
          nodeNamePrefix: n.prefix,
          imageMap,
          dir: join(dir, `node-${which}`),
          logger: logger.child({ module: `node-${which}` }),
        });
      } finally {
        delete process.env.MERIDIAN_POD_IP_BLOCK;
      }
    };
    await startNode("agents");
    stops.push(async () => nodes.agents.sim?.stop());
    const t = AGENTS_TAINT;
    for (const args of [
      ["taint", "node", AGENTS_NODE, `${t.key}=${t.value}:${t.effect}`, "--overwrite"],
      ["label", "node", AGENTS_NODE, `${t.key}=${t.value}`, "--overwrite"],
    ]) {
      const r = await cluster.kubectl(args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${r.stderr}`);
    }
    await startNode("workers");
    stops.push(async () => nodes.workers.sim?.stop());

    const ca = await CertificateAuthority.create(dir, "campaign-ca", "meridian-campaign-ca");
    const cert = await ca.issue({
      name: "control-plane",
      commonName: "control-plane",
      hosts: ["127.0.0.1"],
      usage: "server",
    });
    const cp = await startControlPlaneProcess({
      port: await freePort(),
      dbPath: join(dir, "control-plane.db"),
      logPath: join(dir, "control-plane.log"),
      workspaceTokenTtlSeconds: WORKSPACE_TOKEN_TTL_SECONDS,
      tls: { certPath: cert.certPath, keyPath: cert.keyPath, caPem: ca.cert.certPem },
    });
    stops.push(() => cp.stop());
    let proxy: ConnectProxy | undefined = await startConnectProxy(CP_PROXY_AUTH);
    const proxyUrl = proxy.url;
    const proxyPort = proxy.port;
    const cpHost = new URL(cp.url).host;
    stops.push(async () => proxy?.stop());
    const cpProxy: RestartableProxy = {
      url: proxyUrl,
      tunnels: () => proxy?.tunnels().get(cpHost) ?? 0,
      kill: async () => {
        await proxy?.stop();
        proxy = undefined;
      },
      start: async () => {
        if (proxy) throw new Error("the proxy still runs: kill it before starting it");
        proxy = await startConnectProxy({ ...CP_PROXY_AUTH, port: proxyPort });
      },
    };

    const sim = (which: "agents" | "workers") => {
      const s = nodes[which].sim;
      if (!s) throw new Error(`the ${which} node is lost: restore it first`);
      return s;
    };
    return {
      dir,
      cluster,
      components,
      apiProxy,
      cp,
      caPem: ca.cert.certPem,
      cpProxy,
      dataDir,
      agentsNode: () => sim("agents"),
      workersNode: () => sim("workers"),
      loseNode: async (which) => {
        const s = sim(which);
        for (const pid of s.allProcesses()) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
        nodes[which].sim = undefined;
        await s.stop();
      },
      restoreNode: async (which) => {
        const node = which === "agents" ? AGENTS_NODE : WORKERS_NODE;
        const list = await cluster.request("GET", `/api/v1/pods?fieldSelector=spec.nodeName%3D${node}`);
        const pods = (
          JSON.parse(list.body) as { items: Array<{ metadata: { namespace: string; name: string } }> }
        ).items;
        for (const p of pods) {
          const path = `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}?gracePeriodSeconds=0`;
          const res = await cluster.request("DELETE", path);
          if (res.status !== 200 && res.status !== 404) {
            throw new Error(
              `force-deleting pod ${p.metadata.name} of the lost node: HTTP ${res.status} ${res.body}`,
            );
          }
        }
        await startNode(which);
      },
      logDirs: () => [join(dir, "node-agents"), join(dir, "node-workers")],
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
