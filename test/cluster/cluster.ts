// startCluster(): a real Kubernetes control plane on loopback (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler), with a fresh PKI in a fresh temporary directory.
// Start order and why: etcd first (it needs no certificates, so it boots while they are made),
// the apiserver once etcd answers, then controller-manager and scheduler together once the
// apiserver is ready. Ready means: apiserver /readyz, the `default` ServiceAccount in `default`
// (the controller-manager works) and the scheduler's /readyz (its informers synced).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Logger, silentLogger } from "@meridian/shared/log";
import {
  apiserverArgs,
  type ComponentLayout,
  controllerManagerArgs,
  etcdArgs,
  schedulerArgs,
  writeSchedulerConfig,
} from "./components.ts";
import { type Cluster, ClusterHandle, type ComponentInfo } from "./handle.ts";
import { KubeHttp } from "./http.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { cacheDir, kubeBinDir } from "./paths.ts";
import { makePki } from "./pki.ts";
import { freePorts } from "./ports.ts";
import { ComponentProcess, guardDir, unguardDir } from "./process.ts";
import { GATEWAY_IP, SERVICE_CIDR } from "./real-node/layout.ts";
import { type RealNode, startRealNode } from "./real-node/node.ts";
import { abandonRealNodeHost, type PreparedHost, prepareRealNodeHost } from "./real-node/prepare.ts";
import { waitForComponents } from "./wait.ts";

export type { Cluster, ComponentInfo, KubectlOptions, KubectlResult } from "./handle.ts";

export interface StartClusterOptions {
  /** Nodes for the node simulator (test/cluster/node-simulator); default 0, i.e. no simulator. */
  nodes?: number;
  /** Keep component logs here (not removed by stop()). Also kept when MERIDIAN_KEEP_CLUSTER_LOGS=1. */
  logDir?: string;
  logger?: Logger;
  /** Default 10.96.0.0/16. */
  serviceCidr?: string;
  /** Give up starting after this long; default 90 s. */
  startTimeoutMs?: number;
  /**
   * Also start a real node (test/cluster/real-node: kubelet, containerd, runc, CNI, kube-proxy,
   * CoreDNS). Needs root; the API server then listens on the node's bridge address.
   */
  realNode?: boolean;
  /** Extra flags per component, appended after the harness's own. */
  extraArgs?: Partial<Record<ComponentName, string[]>>;
}

export type ComponentName = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";

/** What test/cluster/node-simulator/index.ts exports as `startNodeSimulator`. */
export type StartNodeSimulator = (opts: {
  cluster: Cluster;
  nodes: number;
  logger: Logger;
}) => Promise<{ stop(): Promise<void> }>;

const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";
const POLL_MS = 50;
const STOP_GRACE_MS = 5000;
const nodeSimulatorPath = new URL("./node-simulator/index.ts", import.meta.url);

/** The node simulator's start function, or undefined if that module does not exist yet. */
export async function loadNodeSimulator(): Promise<StartNodeSimulator | undefined> {
  if (!existsSync(nodeSimulatorPath)) return undefined;
  const mod = (await import(pathToFileURL(nodeSimulatorPath.pathname).href)) as Record<string, unknown>;
  if (typeof mod.startNodeSimulator !== "function") {
    throw new Error(`${nodeSimulatorPath.pathname} does not export a startNodeSimulator function`);
  }
  return mod.startNodeSimulator as StartNodeSimulator;
}

const waitUntil = (
  what: string,
  check: () => Promise<boolean>,
  watched: ComponentProcess[],
  deadline: number,
) => waitForComponents("local cluster", what, check, watched, deadline, POLL_MS);

class LocalCluster extends ClusterHandle {
  readonly external = false;
  readonly logDir: string;
  readonly #procs: ComponentProcess[];
  readonly #keepLogs: boolean;
  readonly #logger: Logger;
  simulator: { stop(): Promise<void> } | undefined;
  realNode: RealNode | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    parts: ConstructorParameters<typeof ClusterHandle>[0],
    procs: ComponentProcess[],
    logDir: string,
    logger: Logger,
  ) {
    super(parts);
    this.#procs = procs;
    this.logDir = logDir;
    this.#keepLogs = !logDir.startsWith(parts.dir);
    this.#logger = logger;
  }

  get components(): readonly ComponentInfo[] {
    return [...this.#procs, ...(this.realNode?.components ?? [])].map((p) => ({
      name: p.name,
      pid: p.pid,
      logPath: p.logPath,
    }));
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const started = performance.now();
    if (this.simulator) {
      try {
        await this.simulator.stop();
      } catch (err) {
        this.#logger.warn({ err }, "node simulator failed to stop cleanly");
      }
    }
    if (this.realNode) {
      try {
        await this.realNode.stop();
      } catch (err) {
        this.#logger.error(
          { err },
          "real node failed to stop cleanly; `npm run cluster -- down` sweeps again",
        );
      }
    }
    await stopInReverse(this.#procs);
    this.http.close();
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    unguardDir(this.dir);
    this.#logger.info(
      {
        durationMs: Math.round(performance.now() - started),
        logDir: this.#keepLogs ? this.logDir : undefined,
      },
      "local cluster stopped",
    );
  }
}

async function stopInReverse(procs: ComponentProcess[]): Promise<void> {
  for (const p of [...procs].reverse()) await p.stop(STOP_GRACE_MS);
}

/** Starts a fresh local control plane; resolves once it is ready for tests. */
export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const logger = opts.logger ?? silentLogger();
  const started = performance.now();
  const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  const binDir = kubeBinDir();
  const nodes = opts.nodes ?? 0;
  const startSimulator = nodes > 0 ? await loadNodeSimulator() : undefined;
  if (nodes > 0 && !startSimulator) {
    throw new Error(
      `startCluster({ nodes: ${nodes} }) needs ${nodeSimulatorPath.pathname}, which does not exist yet`,
    );
  }
  const realNodeHost: PreparedHost | undefined = opts.realNode
    ? await prepareRealNodeHost(logger)
    : undefined;
  const dir = await mkdtemp(join(tmpdir(), "meridian-cluster-"));
  guardDir(dir);
  const keep = opts.logDir !== undefined || process.env.MERIDIAN_KEEP_CLUSTER_LOGS === "1";
  const logDir = opts.logDir
    ? resolve(opts.logDir)
    : keep
      ? join(cacheDir(), "cluster-logs", basename(dir))
      : join(dir, "logs");
  const procs: ComponentProcess[] = [];
  let http: KubeHttp | undefined;
  try {
    const [ports] = await Promise.all([
      freePorts(5),
      mkdir(join(dir, "pki"), { recursive: true }),
      mkdir(logDir, { recursive: true }),
    ]);
    const [etcdClientPort, etcdPeerPort, apiserverPort, controllerManagerPort, schedulerPort] = ports as [
      number,
      number,
      number,
      number,
      number,
    ];
    const serviceCidr = realNodeHost ? SERVICE_CIDR : (opts.serviceCidr ?? "10.96.0.0/16");
    const address = realNodeHost ? GATEWAY_IP : "127.0.0.1";
    const l: ComponentLayout = {
      dir,
      address,
      pki: join(dir, "pki"),
      etcdDataDir: join(dir, "etcd"),
      etcdClientPort,
      etcdPeerPort,
      apiserverPort,
      controllerManagerPort,
      schedulerPort,
      serviceCidr,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      controllerManagerKubeconfig: join(dir, "kube-controller-manager.kubeconfig"),
      schedulerKubeconfig: join(dir, "kube-scheduler.kubeconfig"),
    };
    const launch = (name: ComponentName, args: string[]) => {
      const p = new ComponentProcess(name, join(binDir, name), [...args, ...(opts.extraArgs?.[name] ?? [])], {
        cwd: dir,
        logPath: join(logDir, `${name}.log`),
      });
      procs.push(p);
      return p;
    };

    // etcd needs no certificates: boot it while they are made.
    launch("etcd", etcdArgs(l));
    const pki = await makePki(l);
    logger.debug({ durationMs: Math.round(performance.now() - started) }, "certificates made");
    const server = `https://${address}:${apiserverPort}`;
    const admin = { clientCertPem: pki.admin.certPem, clientKeyPem: pki.admin.keyPem };
    const kubeconfigPath = join(dir, "admin.kubeconfig");
    const caPem = pki.ca.cert.certPem;
    const [schedulerConfig] = await Promise.all([
      writeSchedulerConfig(l),
      writeKubeconfig(kubeconfigPath, { server, caPem, name: "meridian-admin", user: admin }),
      writeKubeconfig(l.controllerManagerKubeconfig, {
        server,
        caPem,
        name: "kube-controller-manager",
        user: { clientCertPem: pki.controllerManager.certPem, clientKeyPem: pki.controllerManager.keyPem },
      }),
      writeKubeconfig(l.schedulerKubeconfig, {
        server,
        caPem,
        name: "kube-scheduler",
        user: { clientCertPem: pki.scheduler.certPem, clientKeyPem: pki.scheduler.keyPem },
      }),
    ]);
    await waitUntil(
      "etcd /health",
      async () => (await fetch(`http://127.0.0.1:${etcdClientPort}/health`)).ok,
      procs,
      deadline,
    );

    logger.debug({ durationMs: Math.round(performance.now() - started) }, "etcd ready");
    launch("kube-apiserver", apiserverArgs(l));
    http = KubeHttp.fromCredentials({ server, caPem, ...admin });
    const api = http;
    await waitUntil(
      "kube-apiserver /readyz",
      async () => (await api.request("GET", "/readyz")).status === 200,
      procs,
      deadline,
    );
    logger.debug({ durationMs: Math.round(performance.now() - started) }, "kube-apiserver ready");

    launch("kube-controller-manager", controllerManagerArgs(l));
    launch("kube-scheduler", schedulerArgs(l, schedulerConfig));
    const scheduler = KubeHttp.fromCredentials({ server: `https://127.0.0.1:${schedulerPort}`, caPem });
    const controllerManager = KubeHttp.fromCredentials({
      server: `https://127.0.0.1:${controllerManagerPort}`,
      caPem,
    });
    try {
      await Promise.all([
        waitUntil(
          "the default ServiceAccount in namespace default (made by kube-controller-manager)",
          async () =>
            (await api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
          procs,
          deadline,
        ),
        waitUntil(
          "kube-controller-manager /healthz",
          async () => (await controllerManager.request("GET", "/healthz")).status === 200,
          procs,
          deadline,
        ),
        waitUntil(
          "kube-scheduler /readyz",
          async () => (await scheduler.request("GET", "/readyz")).status === 200,
          procs,
          deadline,
        ),
      ]);
    } finally {
      scheduler.close();
      controllerManager.close();
    }

    const cluster = new LocalCluster(
      { dir, binDir, server, kubeconfigPath, caPem, caPath: pki.ca.cert.certPath, http, ca: pki.ca },
      procs,
      logDir,
      logger,
    );
    if (realNodeHost) {
      try {
        cluster.realNode = await startRealNode({
          cluster,
          host: realNodeHost,
          logDir,
          logger: logger.child({ module: "real-node" }),
        });
      } catch (err) {
        await cluster.stop();
        throw new Error(
          `local cluster started but the real node failed to start: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    if (startSimulator) {
      try {
        cluster.simulator = await startSimulator({
          cluster,
          nodes,
          logger: logger.child({ module: "node-simulator" }),
        });
      } catch (err) {
        await cluster.stop();
        throw new Error(
          `local cluster started but the node simulator failed to start: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    logger.info(
      { durationMs: Math.round(performance.now() - started), url: server, nodes },
      "local cluster ready",
    );
    return cluster;
  } catch (err) {
    if (realNodeHost) await abandonRealNodeHost(realNodeHost, logger);
    await stopInReverse(procs);
    http?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    unguardDir(dir);
    throw err;
  }
}
