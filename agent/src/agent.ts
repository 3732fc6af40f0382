// Wires the agent together: Kubernetes client and caches (on every replica, so a standby is warm),
// health server, leader election, and the controller the leader runs. `startAgent` is what main.ts
// calls and what the integration tests and the benchmark call in-process.

import { Backoff, sleep } from "@meridian/shared/backoff";
import { FileTokenSource } from "@meridian/shared/controlplane/credentials";
import type { Endpoint } from "@meridian/shared/controlplane/http";
import { createDispatcher } from "@meridian/shared/controlplane/http";
import { createKubeClient, type KubeClient } from "@meridian/shared/kube/client";
import { EventRecorder } from "@meridian/shared/kube/events";
import { createLogger, F, type Logger } from "@meridian/shared/log";
import {
  type HealthServer,
  notReadyReasons,
  type ReadinessCheck,
  startHealthServer,
} from "@meridian/shared/process/health";
import { PROCESS_AGENT } from "@meridian/shared/process/identity";
import { OwnedCaches } from "./caches.ts";
import type { AgentConfig } from "./config.ts";
import type { ControlPlaneConnection } from "./connection.ts";
import { AgentCredentialSource } from "./control-plane-credential.ts";
import { SecretCredentialStore } from "./credential-secret.ts";
import { Leadership } from "./leader.ts";
import { AgentMetrics } from "./metrics.ts";
import type { AgentInfo } from "./options.ts";
import { VERSION } from "./version.ts";

export interface StartAgentOptions {
  /** Default: a JSON logger on stdout at the configured level. */
  logger?: Logger;
  /** Process-wide metrics (CPU, memory, GC); default true. Off when several agents share a process. */
  processMetrics?: boolean;
}

export interface AgentHandle {
  readonly identity: string;
  readonly metrics: AgentMetrics;
  /** `http://host:port` of /healthz, /readyz, /metrics. */
  readonly healthUrl: string;
  readonly kube: KubeClient;
  readonly caches: OwnedCaches;
  isLeader(): boolean;
  /** The leader's control-plane connection (stream, status, the workspaces' controller) while leading. */
  controller(): ControlPlaneConnection | undefined;
  /** Why /readyz fails (empty when ready). */
  notReadyReasons(): string[];
  /**
   * Stops everything. `release` (default true) gives up the Lease so a standby takes over at once;
   * false imitates a crash (the Lease expires on its own).
   */
  stop(opts?: { release?: boolean }): Promise<void>;
}

export async function startAgent(config: AgentConfig, opts: StartAgentOptions = {}): Promise<AgentHandle> {
  const logger = opts.logger ?? createLogger({ component: PROCESS_AGENT, level: config.logLevel });
  const startedAt = new Date().toISOString();
  const metrics = new AgentMetrics({ processMetrics: opts.processMetrics ?? true });
  const kube = await createKubeClient({ kubeconfig: config.kubeconfig, concurrency: config.kubeConcurrency });
  kube.onRequest(metrics.onKubeRequest);
  const caches = new OwnedCaches(kube, config.policy.namespacePrefix, logger.child({ [F.module]: "cache" }), {
    namespace: config.namespace,
    names: config.workspaceAgentPullSecrets,
  });
  const recorder = new EventRecorder({
    client: kube,
    component: PROCESS_AGENT,
    instance: config.podName,
    logger,
  });
  const dialling = {
    baseUrl: config.controlPlaneUrl,
    dispatcher: createDispatcher({
      caPem: config.caPem,
      proxy: { httpsProxy: config.httpsProxy, noProxy: config.noProxy },
    }),
  };
  const endpoint: Endpoint = {
    ...dialling,
    tokens: new AgentCredentialSource({
      endpoint: dialling,
      agentId: config.agentId,
      installed: new FileTokenSource(config.tokenFile),
      store: config.credentialSecret
        ? new SecretCredentialStore(kube, config.namespace, config.credentialSecret)
        : undefined,
      logger: logger.child({ [F.module]: "credential" }),
    }),
  };
  const stopAll = new AbortController();
  let kubernetesVersion = "unknown";
  void fetchVersion(kube, stopAll.signal, logger).then((v) => {
    kubernetesVersion = v;
  });
  caches.start();
  const leadership: Leadership = new Leadership({
    config,
    kube,
    caches,
    logger,
    metrics,
    connection: {
      config,
      kube,
      caches,
      recorder,
      metrics,
      logger,
      endpoint,
      agentInfo: (): AgentInfo => ({
        id: config.agentId,
        version: VERSION,
        identity: config.identity,
        leader: leadership.leader ?? config.identity,
        kubernetesVersion,
        startedAt,
      }),
    },
  });
  const checks: ReadinessCheck[] = [
    { name: "caches", notReady: () => (caches.synced ? undefined : "caches not synced") },
    {
      name: "stream",
      notReady: () =>
        leadership.isLeader && !leadership.controller?.connected
          ? "leader without a control-plane stream"
          : undefined,
    },
  ];
  let health: HealthServer;
  try {
    health = await startHealthServer({ addr: config.healthAddr, registry: metrics.registry, checks });
  } catch (err) {
    await caches.stop();
    await kube.close();
    throw err;
  }
  leadership.start(stopAll.signal);
  logger.info(
    { [F.name]: config.identity, [F.namespace]: config.namespace, [F.url]: health.url },
    `meridian-agent ${VERSION} started`,
  );
  if (config.signingPublicKeys.size === 0)
    logger.warn(
      "no signing keys pinned (--signing-public-keys, Helm controlPlane.signingPublicKeys): desired state is applied without verifying who signed it",
    );
  let stopping: Promise<void> | undefined;
  return {
    identity: config.identity,
    metrics,
    healthUrl: health.url,
    kube,
    caches,
    isLeader: () => leadership.isLeader,
    controller: () => leadership.controller,
    notReadyReasons: () => notReadyReasons(checks),
    stop: (o = {}) => {
      stopping ??= (async () => {
        await leadership.stop({ release: o.release ?? true });
        stopAll.abort();
        await Promise.allSettled([caches.stop(), health.close()]);
        await kube.close();
        await endpoint.dispatcher.close().catch(() => {});
        logger.info({ [F.name]: config.identity }, "meridian-agent stopped");
      })();
      return stopping;
    },
  };
}

/** GET /version, retried with the shared back-off until it answers or the agent stops. */
async function fetchVersion(kube: KubeClient, signal: AbortSignal, logger: Logger): Promise<string> {
  const backoff = new Backoff();
  while (!signal.aborted) {
    try {
      return await kube.serverVersion(signal);
    } catch (err) {
      if (backoff.attempt === 0) logger.warn({ err }, "cannot read the Kubernetes version yet; retrying");
      await sleep(backoff.next(), signal);
    }
  }
  return "unknown";
}
