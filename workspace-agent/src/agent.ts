// Wires one workspace agent: Kubernetes client and watch caches (pods, ConfigMaps, Services of this
// namespace that the workspace agent manages), the credential from its Secret, the workspace stream
// (inbound), the controller, the Flink monitor, the status reporter (outbound), Kubernetes Events,
// and the health/metrics server. `startWorkspaceAgent` is what `run` calls and what tests call
// in-process; `stop()` ends everything it started.
import { createDispatcher, type Endpoint } from "@meridian/shared/controlplane/http";
import { workspaceStatusReporter } from "@meridian/shared/controlplane/reporter";
import { workspaceStream } from "@meridian/shared/controlplane/stream";
import type { TokenSource } from "@meridian/shared/controlplane/token-source";
import { createKubeClient, type KubeClient } from "@meridian/shared/kube/client";
import { EventRecorder } from "@meridian/shared/kube/events";
import {
  FIELD_MANAGER_WORKSPACE_AGENT,
  LABEL_DEPLOYMENT,
  MANAGED_BY_WORKSPACE_AGENT,
  managedBySelector,
} from "@meridian/shared/kube/labels";
import { CONFIG_MAPS, PODS, SERVICES } from "@meridian/shared/kube/resources";
import { dropManagedFields, WatchCache } from "@meridian/shared/kube/watch-cache";
import { createLogger, F, type Logger } from "@meridian/shared/log";
import { type HealthServer, startHealthServer } from "@meridian/shared/process/health";
import { PROCESS_WORKSPACE_AGENT } from "@meridian/shared/process/identity";
import type { WorkspaceAgentStatus } from "@meridian/shared/protocol/index";
import { describeConfig, type WorkspaceAgentConfig } from "./config.ts";
import { SecretTokenSource } from "./credential.ts";
import { DeploymentController } from "./flink/deployment-controller.ts";
import { DesiredStore } from "./flink/desired.ts";
import { FlinkMonitor, type RestUrlBuilder } from "./flink/monitor.ts";
import { names } from "./flink/objects.ts";
import type { ConfigMapObject, PodObject, ServiceObject } from "./flink/reconcile-deps.ts";
import { storedGeneration } from "./flink/stored-state.ts";
import { flinkStorageOf } from "./flink/storage.ts";
import { connectInbound } from "./inbound.ts";
import { WorkspaceAgentMetrics } from "./metrics.ts";
import { VERSION } from "./version.ts";
import { WorkspaceStatus } from "./workspace-status.ts";

export interface WorkspaceAgentOverrides {
  logger?: Logger;
  /** How to reach a JobManager's REST API; default `http://<service>.<namespace>.svc:8081`. */
  restUrl?: RestUrlBuilder;
  /** Instead of the credential Secret (tests of other parts). */
  tokens?: TokenSource;
  /** Node's process metrics (CPU, memory, GC); default true. Off when several agents share a process. */
  processMetrics?: boolean;
  /** Full resync of every deployment this often; default 60 s. */
  resyncMs?: number;
}

export interface WorkspaceAgent {
  config: WorkspaceAgentConfig;
  healthUrl: string;
  metrics: WorkspaceAgentMetrics;
  controller: DeploymentController;
  /** The status as last handed to the reporter. */
  status(): WorkspaceAgentStatus;
  stop(): Promise<void>;
}

export async function startWorkspaceAgent(
  config: WorkspaceAgentConfig,
  overrides: WorkspaceAgentOverrides = {},
): Promise<WorkspaceAgent> {
  const logger =
    overrides.logger ??
    createLogger({ component: PROCESS_WORKSPACE_AGENT, level: config.logLevel }).child({
      [F.workspace]: config.workspaceId,
    });
  logger.info({ config: describeConfig(config), version: VERSION }, "starting workspace agent");
  if (config.flinkAllowedRegistries.length === 0)
    logger.warn("MERIDIAN_FLINK_ALLOWED_REGISTRIES is empty: Flink images from any registry are accepted");
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
  };
  try {
    const metrics = new WorkspaceAgentMetrics({ processMetrics: overrides.processMetrics ?? true });
    const client: KubeClient = await createKubeClient({
      ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
      concurrency: config.kubeConcurrency,
    });
    cleanups.push(() => client.close());
    cleanups.push(client.onRequest(metrics.onKubeRequest));

    const caches = startCaches(client, config.namespace, logger);
    cleanups.push(() => Promise.all(caches.all.map((c) => c.stop())).then(() => {}));

    const secretTokens = overrides.tokens
      ? undefined
      : new SecretTokenSource({
          client,
          namespace: config.namespace,
          name: config.credentialSecret,
          workspaceId: config.workspaceId,
          logger: logger.child({ [F.module]: "credential" }),
          onChange: (c) => {
            if (c.expiresAt) metrics.credentialExpiry.set(Date.parse(c.expiresAt) / 1000);
          },
        });
    if (secretTokens) {
      await secretTokens.start();
      cleanups.push(() => secretTokens.stop());
    }
    const dispatcher = createDispatcher({
      ...(config.caFile ? { caFile: config.caFile } : {}),
      proxy: config.proxy,
    });
    cleanups.push(() => dispatcher.close());
    const endpoint: Endpoint = {
      baseUrl: config.controlPlaneUrl,
      dispatcher,
      tokens: overrides.tokens ?? (secretTokens as TokenSource),
    };

    const stream = workspaceStream(endpoint, config.workspaceId, {
      logger: logger.child({ [F.module]: "stream" }),
    });
    cleanups.push(() => stream.stop());
    const reporter = workspaceStatusReporter(endpoint, config.workspaceId, {
      heartbeatMs: config.statusIntervalMs,
    });
    reporter.on("sent", () => metrics.statusReports.inc({ outcome: "sent" }));
    reporter.on("failed", ({ reason, retryInMs }) => {
      metrics.statusReports.inc({ outcome: "failed" });
      logger.warn({ [F.reason]: reason, [F.delayMs]: retryInMs }, "status report failed; will retry");
    });
    cleanups.push(() => reporter.stop({ flush: true }));
    const status = new WorkspaceStatus({
      workspaceId: config.workspaceId,
      version: VERSION,
      identity: config.podName,
      startedAt: new Date(),
      reporter,
      stream,
      onPhases: (p) => metrics.setPhases(p),
    });

    // The generation each deployment's persisted state holds: a restart does not forget it.
    const desired = new DesiredStore({
      clusterGeneration: (name) =>
        storedGeneration(caches.configMaps.get(config.namespace, names.configMap(name))),
      clusterNames: () => controller?.knownNames() ?? [],
    });
    const events = new EventRecorder({
      client,
      component: FIELD_MANAGER_WORKSPACE_AGENT,
      instance: config.podName,
      logger,
    });
    let controller: DeploymentController | undefined;
    const monitor = new FlinkMonitor({
      namespace: config.namespace,
      intervalMs: config.flinkPollIntervalMs,
      timeoutMs: config.flinkRequestTimeoutMs,
      ...(overrides.restUrl ? { restUrl: overrides.restUrl } : {}),
      logger,
      onChange: (name) => controller?.enqueue(name),
      onRequest: (outcome) => metrics.flinkRequests.inc({ outcome }),
    });
    controller = new DeploymentController({
      namespace: config.namespace,
      workspaceId: config.workspaceId,
      savepointBaseDir: config.savepointBaseDir,
      storage: flinkStorageOf(config),
      allowedRegistries: config.flinkAllowedRegistries,
      allowedJarURIs: config.flinkAllowedJarURIs,
      orphanGracePeriodMs: config.orphanGracePeriodSeconds * 1000,
      client,
      pods: caches.pods,
      configMaps: caches.configMaps,
      services: caches.services,
      desired,
      monitor,
      logger,
      recordEvent: (cm, type, reason, message) => {
        if (!cm?.metadata?.name) return;
        void events.record(
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { namespace: config.namespace, name: cm.metadata.name, uid: cm.metadata.uid },
          },
          type,
          reason,
          message,
        );
      },
      onStatus: (name, s) => status.set(name, s),
      onReconcile: (outcome, ms) => {
        metrics.reconciles.inc({ outcome });
        metrics.reconcileSeconds.observe(ms / 1000);
      },
      onLifecycleStep: (operation, step) => metrics.lifecycleSteps.inc({ operation, step }),
    });
    const ctl = controller;
    cleanups.push(() => ctl.stop());
    cleanups.push(() => monitor.stop());
    for (const cache of caches.all)
      cache.on((ev) => {
        const name = ev.object.metadata?.labels?.[LABEL_DEPLOYMENT];
        if (name) ctl.enqueue(name);
      });
    connectInbound({
      workspaceId: config.workspaceId,
      stream,
      desired,
      controller: ctl,
      logger,
      metrics,
      onStatusChange: () => status.changed(),
    });

    const health: HealthServer = await startHealthServer({
      addr: config.healthAddr,
      registry: metrics.registry,
      checks: [
        {
          name: "caches",
          notReady: () => {
            const unsynced = caches.all.filter((c) => !c.synced).map((c) => c.type.plural);
            return unsynced.length ? `watch caches not synced: ${unsynced.join(", ")}` : undefined;
          },
        },
        {
          name: "credential",
          notReady: () =>
            secretTokens && !secretTokens.ready
              ? `no credential in Secret ${config.credentialSecret} yet`
              : undefined,
        },
      ],
    });
    cleanups.push(() => health.close());

    // Nothing is reconciled before the caches hold the cluster's state: a reconcile on an empty
    // cache would take a deployment for new and overwrite its persisted lifecycle state.
    await Promise.all(caches.all.map((c) => c.waitForSync()));
    ctl.start();
    stream.start();
    monitor.start();
    const resync = setInterval(() => ctl.enqueueAll(), overrides.resyncMs ?? 60_000);
    resync.unref();
    cleanups.push(() => clearInterval(resync));
    logger.info({ [F.url]: health.url }, "workspace agent started");

    return {
      config,
      healthUrl: health.url,
      metrics,
      controller: ctl,
      status: () => status.snapshot(),
      stop: async () => {
        logger.info("stopping workspace agent");
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function startCaches(client: KubeClient, namespace: string, logger: Logger) {
  const labelSelector = managedBySelector(MANAGED_BY_WORKSPACE_AGENT);
  const opts = { client, namespace, labelSelector, logger, transform: dropManagedFields };
  const pods = new WatchCache<PodObject>({ ...opts, type: PODS }).start();
  const configMaps = new WatchCache<ConfigMapObject>({ ...opts, type: CONFIG_MAPS }).start();
  const services = new WatchCache<ServiceObject>({ ...opts, type: SERVICES }).start();
  return { pods, configMaps, services, all: [pods, configMaps, services] as WatchCache[] };
}
