// startNodeSimulator(): a fake kubelet for N Nodes. It registers the Nodes, keeps
// them alive, runs the pods scheduled to them as local processes (pod-worker.ts),
// serves their logs to the apiserver (log-server.ts) and keeps a hosts file of
// Service and pod names (hosts.ts).
import { mkdir, mkdtemp } from "node:fs/promises";
import type { Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { V1ConfigMap, V1Pod, V1Secret, V1Service } from "@kubernetes/client-node";
import { bundle } from "@meridian/shared/build/bundle";
import { type Logger, silentLogger } from "@meridian/shared/log";
import { cacheDir } from "../paths.ts";
import type { ObjectSource } from "./container-context.ts";
import { defaultImageMap } from "./default-image-map.ts";
import { buildHostsFile } from "./hosts.ts";
import type { ImageMapEntry } from "./image-map.ts";
import { isStatus, KubeApi } from "./kube-api.ts";
import { type ServingCert, selfSignedCert, serverPort, startLogServer } from "./log-server.ts";
import { SimulatedNodes } from "./nodes.ts";
import { PodWorker } from "./pod-worker.ts";
import { ProcessTable } from "./processes.ts";
import { Reflector } from "./reflector.ts";
import { writeFileAtomic } from "./service-account.ts";

export const HOST_IP = "127.0.0.1";
const PRELOAD_SOURCE = fileURLToPath(new URL("./hosts-preload.ts", import.meta.url));
const STOP_GRACE_MS = 3000;

/** The parts of a test cluster (test/cluster) the simulator can use. */
export interface NodeSimulatorCluster {
  kubeconfigPath?: string;
  dir?: string;
  issueServingCert?(hosts: string[]): Promise<ServingCert>;
}

export interface NodeSimulatorOptions {
  /** Admin kubeconfig; default `cluster.kubeconfigPath`. */
  kubeconfigPath?: string;
  /** Default 1. Nodes are named `<nodeNamePrefix>-0`, `-1`, ... */
  nodes?: number;
  /** Default `defaultImageMap()`: the project's images, busybox and sim/shell. */
  imageMap?: ImageMapEntry[];
  /** Work dir for pod dirs, logs and the hosts file; default `<cluster.dir>/node-simulator` or a temp dir. */
  dir?: string;
  /** Signs the log server's certificate (the apiserver verifies it with --kubelet-certificate-authority). */
  cluster?: NodeSimulatorCluster;
  logger?: Logger;
  /** Default `sim-node`. */
  nodeNamePrefix?: string;
}

export interface NodeSimulator {
  readonly nodeNames: string[];
  readonly dir: string;
  readonly hostsFile: string;
  /** Port of the HTTPS log server (every node's kubeletEndpoint). */
  readonly kubeletPort: number;
  /** Pids of the pod's running container processes (empty if none or unknown pod). */
  podProcesses(namespace: string, name: string): number[];
  podIP(namespace: string, name: string): string | undefined;
  podDir(namespace: string, name: string): string | undefined;
  /** Pids of every container process the simulator runs now. */
  allProcesses(): number[];
  /** Kills every process it started (SIGTERM, then SIGKILL) and stops reporting; Nodes stay registered. */
  stop(): Promise<void>;
}

/**
 * 127.<block>.1.1, 127.<block>.1.2, ... 127.<block>.1.254, 127.<block>.2.1, ...: unique per pod for the
 * simulator's life. Each simulator draws its own `block` (16–250), so two simulators running at once on
 * one machine (a test and the demo) do not hand out the same addresses.
 */
export function podIPFor(n: number, block = 0): string {
  if (n < 0 || n >= 254 * 255) throw new Error("the node simulator ran out of loopback pod IPs");
  if (!Number.isInteger(block) || block < 0 || block > 255) throw new Error(`bad pod IP block ${block}`);
  return `127.${block}.${1 + Math.floor(n / 254)}.${1 + (n % 254)}`;
}

/** A random second octet for this simulator's pod IPs; MERIDIAN_POD_IP_BLOCK pins it. */
export function drawPodIPBlock(env: NodeJS.ProcessEnv = process.env): number {
  const pinned = env.MERIDIAN_POD_IP_BLOCK;
  if (pinned !== undefined) return Number(pinned);
  return 16 + Math.floor(Math.random() * 235);
}

function decodeConfigMap(cm: V1ConfigMap | undefined): Record<string, Buffer> | undefined {
  if (!cm) return undefined;
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v, "utf8");
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, "base64");
  return out;
}

function decodeSecret(s: V1Secret | undefined): Record<string, Buffer> | undefined {
  if (!s) return undefined;
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, "base64");
  return out;
}

export async function startNodeSimulator(opts: NodeSimulatorOptions): Promise<NodeSimulator> {
  const logger = opts.logger ?? silentLogger();
  const kubeconfigPath = opts.kubeconfigPath ?? opts.cluster?.kubeconfigPath;
  if (!kubeconfigPath) throw new Error("startNodeSimulator needs kubeconfigPath (or a cluster with one)");
  const dir =
    opts.dir ??
    (opts.cluster?.dir
      ? join(opts.cluster.dir, "node-simulator")
      : await mkdtemp(join(tmpdir(), "meridian-sim-")));
  await mkdir(join(dir, "pods"), { recursive: true });
  const hostsFile = join(dir, "hosts");
  const prefix = opts.nodeNamePrefix ?? "sim-node";
  const nodeNames = Array.from({ length: opts.nodes ?? 1 }, (_, i) => `${prefix}-${i}`);
  const nodeSet = new Set(nodeNames);
  const imageMap = opts.imageMap ?? defaultImageMap();
  const api = await KubeApi.fromKubeconfig(kubeconfigPath);
  const processes = new ProcessTable();
  const workers = new Map<string, PodWorker>(); // by pod uid
  let nextIP = 0;
  const ipBlock = drawPodIPBlock();
  let stopped = false;

  const cert = await servingCert(opts.cluster, dir, logger);
  const findWorker = (ns: string, name: string) =>
    [...workers.values()].reverse().find((w) => w.namespace === ns && w.name === name);
  const server: Server = await startLogServer(
    cert,
    (ns, pod, container) => findWorker(ns, pod)?.findLogs(container),
    logger,
  );
  const kubeletPort = serverPort(server);

  const reflectorLogger = logger.child({ module: "node-simulator-watch" });
  const configMaps = new Reflector<V1ConfigMap>({
    api,
    path: "/api/v1/configmaps",
    logger: reflectorLogger,
    onEvent: () => {},
  });
  const secrets = new Reflector<V1Secret>({
    api,
    path: "/api/v1/secrets",
    logger: reflectorLogger,
    onEvent: () => {},
  });
  let hostsTimer: NodeJS.Timeout | undefined;
  let hostsText = "";
  const writeHosts = async () => {
    const text = buildHostsFile(services.items.values(), pods.items.values(), nodeNames);
    if (text === hostsText) return;
    hostsText = text;
    await writeFileAtomic(hostsFile, text);
  };
  const scheduleHosts = () => {
    if (stopped || hostsTimer) return;
    hostsTimer = setTimeout(() => {
      hostsTimer = undefined;
      writeHosts().catch((err) => logger.warn({ err }, "writing the hosts file failed"));
    }, 50);
  };
  const services = new Reflector<V1Service>({
    api,
    path: "/api/v1/services",
    logger: reflectorLogger,
    onEvent: scheduleHosts,
  });

  const objects: ObjectSource = {
    configMap: async (ns, name) =>
      decodeConfigMap(
        configMaps.get(ns, name) ??
          (await getOrUndefined<V1ConfigMap>(api, `/api/v1/namespaces/${ns}/configmaps/${name}`)),
      ),
    secret: async (ns, name) =>
      decodeSecret(
        secrets.get(ns, name) ??
          (await getOrUndefined<V1Secret>(api, `/api/v1/namespaces/${ns}/secrets/${name}`)),
      ),
  };

  const onPod = (type: string, pod: V1Pod) => {
    scheduleHosts();
    if (stopped || !pod.spec?.nodeName || !nodeSet.has(pod.spec.nodeName)) return;
    const uid = pod.metadata?.uid ?? "";
    const worker = workers.get(uid);
    if (type === "DELETED") {
      if (worker) {
        workers.delete(uid);
        void worker.kill(1000);
      }
      return;
    }
    if (worker) {
      worker.update(pod);
      return;
    }
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed" || pod.metadata?.deletionTimestamp) {
      // Nothing runs for it here; a terminating pod still has to be removed, as a kubelet would.
      if (pod.metadata?.deletionTimestamp) void deletePod(api, pod);
      return;
    }
    const ns = pod.metadata?.namespace ?? "default";
    const w = new PodWorker(pod, {
      api,
      logger,
      processes,
      imageMap,
      objects,
      hostsFile,
      preloadPath,
      hostIP: HOST_IP,
      podIP: podIPFor(nextIP++, ipBlock),
      podDir: join(dir, "pods", `${ns}_${pod.metadata?.name}_${uid}`),
      claimsDir: join(dir, "claims"),
    });
    workers.set(uid, w);
    logger.debug({ namespace: ns, name: pod.metadata?.name, podIP: w.podIP }, "starting pod");
    w.start();
  };
  const pods = new Reflector<V1Pod>({ api, path: "/api/v1/pods", logger: reflectorLogger, onEvent: onPod });

  const nodes = new SimulatedNodes(api, logger, nodeNames, kubeletPort);
  // Pods load the preload as a bundle, as plain JavaScript: loading a .ts file would switch on type
  // stripping in every simulated Node process (~18 MB each), which a real pod does not pay.
  const preloadPath = await bundle(PRELOAD_SOURCE, join(cacheDir(), "build", "hosts-preload.mjs"));
  try {
    await writeHosts();
    await Promise.all([configMaps.start(), secrets.start(), services.start()]);
    await nodes.register();
    await pods.start();
  } catch (err) {
    for (const r of [configMaps, secrets, services, pods]) r.stop();
    nodes.stop();
    server.close();
    processes.dispose();
    await api.close();
    throw new Error(`node simulator failed to start: ${(err as Error).message}`, { cause: err });
  }
  logger.info({ nodes: nodeNames, kubeletPort, dir }, "node simulator started");

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    stopped = true;
    if (hostsTimer) clearTimeout(hostsTimer);
    for (const r of [configMaps, secrets, services, pods]) r.stop();
    nodes.stop();
    await Promise.all([...workers.values()].map((w) => w.kill(STOP_GRACE_MS)));
    processes.signalAll("SIGKILL");
    processes.dispose();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await api.close();
    logger.info({ nodes: nodeNames }, "node simulator stopped");
  };

  return {
    nodeNames,
    dir,
    hostsFile,
    kubeletPort,
    podProcesses: (ns, name) => findWorker(ns, name)?.pids() ?? [],
    podIP: (ns, name) => findWorker(ns, name)?.podIP,
    podDir: (ns, name) => findWorker(ns, name)?.podDir,
    allProcesses: () => processes.pids,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}

async function servingCert(
  cluster: NodeSimulatorCluster | undefined,
  dir: string,
  logger: Logger,
): Promise<ServingCert> {
  if (cluster?.issueServingCert) {
    try {
      const c = await cluster.issueServingCert([HOST_IP, "localhost"]);
      return { certPem: c.certPem, keyPem: c.keyPem };
    } catch (err) {
      logger.warn(
        { err },
        "the cluster could not sign a kubelet serving certificate; using a self-signed one",
      );
    }
  }
  return selfSignedCert(dir);
}

async function getOrUndefined<T>(api: KubeApi, path: string): Promise<T | undefined> {
  try {
    return await api.get<T>(path);
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

async function deletePod(api: KubeApi, pod: V1Pod): Promise<void> {
  try {
    await api.request("DELETE", `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`, {
      body: {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata?.uid },
      },
    });
  } catch {}
}
