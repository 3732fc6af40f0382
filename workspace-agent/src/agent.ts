// Wires one workspace agent: Kubernetes client and watch caches (caches.ts), the credential from its
// Secret, the control-plane connection (connection.ts: inbound stream, outbound status), the
// controller of Flink deployments, the Flink monitor, Kubernetes Events, and the health/metrics
// server. `startWorkspaceAgent` is what `run` calls and what tests call in-process; `stop()` ends
// everything it started.
import { keysToReconcile } from "@meridian/shared/controller/desired-change";
import type { TokenSource } from "@meridian/shared/controlplane/token-source";
import { createKubeClient, type KubeClient } from "@meridian/shared/kube/client";
import { EventRecorder } from "@meridian/shared/kube/events";
import { FIELD_MANAGER_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import { createLogger, F } from "@meridian/shared/log";
import { type HealthServer, startHealthServer } from "@meridian/shared/process/health";
import { PROCESS_WORKSPACE_AGENT } from "@meridian/shared/process/identity";
import type { WorkspaceAgentStatus } from "@meridian/shared/protocol/index";
import { cachesNotReady, onDeploymentEvent, onRelisted, startCaches } from "./caches.ts";
import { describeConfig, type WorkspaceAgentConfig } from "./config.ts";
import { ControlPlaneConnection } from "./connection.ts";
import { SecretTokenSource } from "./credential.ts";
import { DeploymentController } from "./flink/deployment-controller.ts";
import { DesiredStore } from "./flink/desired.ts";
import { FlinkMonitor } from "./flink/monitor.ts";
import { names } from "./flink/objects.ts";
import { flinkStorageOf } from "./flink/storage.ts";
import { storedGeneration } from "./flink/stored-state.ts";
import { WorkspaceAgentMetrics } from "./metrics.ts";
import { DEFAULT_RESYNC_MS, type WorkspaceAgentOverrides } from "./options.ts";
import { configMapReplayMarks } from "./replay-mark-config-map.ts";
import { VERSION } from "./version.ts";

export type { WorkspaceAgentOverrides } from "./options.ts";

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

    // Set once the connection exists: a new credential wakes a stream refused with 401.
    let connectionRef: ControlPlaneConnection | undefined;
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
            connectionRef?.credentialChanged();
          },
          onWorkspaceDeleting: () => deleteWorkspace(),
        });
    // The agent is deleting the workspace (its mark on the credential Secret, read before or after
    // the controller exists): every deployment goes through its own delete path.
    let workspaceDeleting = false;
    let desiredRef: DesiredStore | undefined;
    let controller: DeploymentController | undefined;
    const deleteWorkspace = () => {
      workspaceDeleting = true;
      if (!controller || !desiredRef) return;
      for (const name of keysToReconcile(desiredRef.deleteWorkspace(controller.knownNames())))
        controller.enqueue(name);
    };
    if (secretTokens) {
      await secretTokens.start();
      cleanups.push(() => secretTokens.stop());
    }

    // The generation each deployment's persisted state holds: a restart does not forget it.
    const desired = new DesiredStore({
      clusterGeneration: (name) =>
        storedGeneration(caches.configMaps.get(config.namespace, names.configMap(name))),
      clusterNames: () => controller?.knownNames() ?? [],
    });
    desiredRef = desired;
    if (workspaceDeleting) desired.deleteWorkspace([]);
    const events = new EventRecorder({
      client,
      component: FIELD_MANAGER_WORKSPACE_AGENT,
      instance: config.podName,
      logger,
    });
    const connection = new ControlPlaneConnection({
      config,
      tokens: overrides.tokens ?? (secretTokens as TokenSource),
      desired,
      controller: { enqueue: (name) => controller?.enqueue(name) },
      metrics,
      logger,
      info: { version: VERSION, identity: config.podName, startedAt: new Date() },
      ...(config.signingPublicKeys.size > 0
        ? { replayMarks: configMapReplayMarks(client, config.namespace, config.workspaceId) }
        : {}),
      // A refused signature: a Warning Event on the deployment's ConfigMap, or on this pod.
      onUnverified: (refusal) => {
        const cm =
          refusal.key === undefined
            ? undefined
            : caches.configMaps.get(config.namespace, names.configMap(refusal.key));
        const about = cm?.metadata?.name
          ? { kind: "ConfigMap", metadata: { name: cm.metadata.name, uid: cm.metadata.uid } }
          : { kind: "Pod", metadata: { name: config.podName } };
        const involved = {
          apiVersion: "v1",
          kind: about.kind,
          metadata: { ...about.metadata, namespace: config.namespace },
        };
        void events.record(involved, "Warning", refusal.reason, `${refusal.message}; nothing applied`);
      },
    });
    connectionRef = connection;
    cleanups.push(() => connection.stop());

    const monitor = new FlinkMonitor({
      namespace: config.namespace,
      intervalMs: config.flinkPollIntervalMs,
      timeoutMs: config.flinkRequestTimeoutMs,
      ...(overrides.restUrl ? { restUrl: overrides.restUrl } : {}),
      logger,
      onChange: (name) => controller?.enqueue(name),
      onRequest: (outcome) => metrics.flinkRequests.inc({ outcome }),
    });
    const ctl = new DeploymentController({
      namespace: config.namespace,
      workspaceId: config.workspaceId,
      savepointBaseDir: config.savepointBaseDir,
      storage: flinkStorageOf(config),
      allowedRegistries: config.flinkAllowedRegistries,
      allowedJarURIs: config.flinkAllowedJarURIs,
      imagePullSecrets: config.flinkImagePullSecrets,
      podTemplates: {
        allowInitContainers: config.flinkPodTemplateAllowInitContainers,
        allowSidecars: config.flinkPodTemplateAllowSidecars,
      },
      workspacePodTemplate: config.flinkDefaultPodTemplate,
      orphanGracePeriodMs: config.orphanGracePeriodSeconds * 1000,
      savepointSecondMs: overrides.savepointSecondMs,
      client,
      pods: caches.pods,
      configMaps: caches.configMaps,
      services: caches.services,
      desired,
      monitor,
      logger,
      recordEvent: (cm, type, reason, message) => {
        if (!cm?.metadata?.name) return;
        const { name, uid } = cm.metadata;
        const involved = {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { namespace: config.namespace, name, uid },
        };
        void events.record(involved, type, reason, message);
      },
      onStatus: (name, s) => connection.status.set(name, s),
      onReconcile: (outcome, ms) => {
        metrics.reconciles.inc({ outcome });
        metrics.reconcileSeconds.observe(ms / 1000);
      },
      onLifecycleStep: (operation, step) => metrics.lifecycleSteps.inc({ operation, step }),
    });
    controller = ctl;
    cleanups.push(() => ctl.stop());
    cleanups.push(() => monitor.stop());
    onDeploymentEvent(caches, (name) => ctl.enqueue(name));
    onRelisted(caches, () => ctl.enqueueAll());

    const health: HealthServer = await startHealthServer({
      addr: config.healthAddr,
      registry: metrics.registry,
      checks: [
        { name: "caches", notReady: () => cachesNotReady(caches) },
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
    connection.start();
    monitor.start();
    const resync = setInterval(() => ctl.enqueueAll(), overrides.resyncMs ?? DEFAULT_RESYNC_MS);
    resync.unref();
    cleanups.push(() => clearInterval(resync));
    logger.info({ [F.url]: health.url }, "workspace agent started");
    if (config.signingPublicKeys.size === 0)
      logger.warn(
        "no signing keys pinned (MERIDIAN_SIGNING_PUBLIC_KEYS): desired state is applied unverified",
      );

    return {
      config,
      healthUrl: health.url,
      metrics,
      controller: ctl,
      status: () => connection.status.snapshot(),
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
