// Pure builders of the Kubernetes objects of one Flink deployment (standalone, application mode):
// the ConfigMap with Flink's config.yaml (also the owner of everything else and the home of the
// persisted lifecycle state), the JobManager Service, one JobManager pod and N TaskManager pods.
// Everything here is a function of its inputs: no I/O, no clock.
import { createHash } from "node:crypto";
import type { V1ConfigMap, V1Container, V1OwnerReference, V1Pod, V1Service } from "@kubernetes/client-node";
import { ANNOTATION_ORPHANED_SINCE } from "@meridian/shared/controller/orphan";
import { ANNOTATION_STREAM_MARK } from "@meridian/shared/controlplane/replay-mark";
import {
  COMPONENT_JOBMANAGER,
  COMPONENT_TASKMANAGER,
  LABEL_COMPONENT,
  LABEL_DEPLOYMENT,
  LABEL_WORKSPACE,
  MANAGED_BY_WORKSPACE_AGENT,
  meridianLabels,
} from "@meridian/shared/kube/labels";
import { parseQuantity } from "@meridian/shared/kube/quantity";
import { compareStrings } from "@meridian/shared/order";
import { type DeploymentSpec, isReactive } from "@meridian/shared/protocol/index";
import { renderConfigYaml } from "./config-yaml.ts";
import {
  applyPodTemplate,
  canonicalJson,
  effectivePodTemplate,
  type FlinkComponent,
} from "./pod-template.ts";
import type { OwnedPodParts } from "./pod-template-policy.ts";
import { checkpointDefaults, haDefaults, haEnabled, haOwnedConfig } from "./state-config.ts";
import {
  type FlinkStorage,
  needsPluginsDir,
  PLUGINS_DIR,
  storageEnv,
  storageFlinkConfig,
  storagePodLabels,
  storageSavepointDir,
} from "./storage.ts";

export const PORT_RPC = 6123;
export const PORT_BLOB = 6124;
export const PORT_REST = 8081;
export const PORT_TM_RPC = 6122;
/** uid/gid of the `flink` user in the official image. */
export const FLINK_UID = 9999;

/** Annotations Meridian reads and writes on a deployment's objects. */
export const ANNOTATION_STATE = "meridian.dev/lifecycle-state";
export const ANNOTATION_SPEC_HASH = "meridian.dev/spec-hash";
export const ANNOTATION_RUN = "meridian.dev/run";
/** Set by a human (`kubectl annotate cm <name>-flink-config meridian.dev/force-delete=true`). */
export const ANNOTATION_FORCE_DELETE = "meridian.dev/force-delete";

export const names = {
  configMap: (deployment: string) => `${deployment}-flink-config`,
  service: (deployment: string) => `${deployment}-jobmanager`,
  jobManagerPod: (deployment: string) => `${deployment}-jobmanager`,
  taskManagerPod: (deployment: string, index: number) => `${deployment}-taskmanager-${index}`,
};

/** The JobManager Service's namespace-qualified DNS name (short names clash across namespaces). */
export function serviceHost(deployment: string, namespace: string): string {
  return `${names.service(deployment)}.${namespace}.svc`;
}

/** Default Flink options; the spec's flinkConfiguration overrides these. */
export const DEFAULT_FLINK_CONFIG: Readonly<Record<string, string>> = {
  "restart-strategy.type": "exponential-delay",
  "heartbeat.rpc-failure-threshold": "2",
  "execution.submit-failed-job-on-application-error": "true",
  // TaskManagers start alongside their JobManager: retry the first registration soon, not in 10 s.
  "cluster.registration.error-delay": "2 s",
};

export interface DeploymentContext {
  workspaceId: string;
  namespace: string;
  /** The spec the objects are built from (the deployed run's spec, not necessarily the desired one). */
  spec: DeploymentSpec;
  /** Default savepoint directory root when neither spec nor config names one. */
  savepointBaseDir: string | undefined;
  /** The workspace's storage and identity (storage.ts); undefined: none, as before. */
  storage?: FlinkStorage | undefined;
  /** Pull secrets every Flink pod names (the chart's, copied into the namespace by the agent). */
  imagePullSecrets?: readonly string[] | undefined;
}

export interface Owner {
  name: string;
  uid: string;
}

/** One incarnation of the job: what the pods were started with. */
export interface PodRun {
  id: number;
  specHash: string;
  /** Savepoint the JobManager restores from (`--fromSavepoint`). */
  restoreFrom?: string | undefined;
  /** The job's fixed id (`--job-id`): the state lineage's, kept by a LAST_STATE run (state-config.ts). */
  jobId?: string | undefined;
}

/**
 * Hash of everything whose change needs the job redeployed: image, job, parallelism, resources,
 * slots, Flink configuration and the scaling mode. Not: state, nonces, upgrade mode, TaskManager
 * replicas (pods are added or removed without a redeploy), nor, in reactive mode, parallelism: Flink
 * ignores it there, it only sets the TaskManager count (docs/flink-deployments.md#rescaling).
 */
export function specHash(spec: DeploymentSpec): string {
  const reactive = isReactive(spec);
  const relevant = {
    image: spec.image,
    job: { jarURI: spec.job.jarURI, entryClass: spec.job.entryClass, args: spec.job.args },
    parallelism: reactive ? undefined : spec.parallelism,
    jobManager: spec.jobManager.resources,
    taskManager: { resources: spec.taskManager.resources, taskSlots: spec.taskManager.taskSlots },
    flinkConfiguration: sortKeys(spec.flinkConfiguration),
  };
  const templates = [spec.podTemplate, spec.jobManager.podTemplate, spec.taskManager.podTemplate];
  // Only when there is one: hashes of specs without templates stay as they were (no redeploy).
  if (templates.some((t) => t !== undefined))
    Object.assign(relevant, { podTemplates: JSON.parse(canonicalJson(templates)) });
  // Likewise only when set: switching reactive mode on or off is a redeploy.
  if (spec.scaling) Object.assign(relevant, { scaling: spec.scaling.mode });
  return createHash("sha256").update(JSON.stringify(relevant)).digest("hex").slice(0, 16);
}

function sortKeys(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => compareStrings(a, b)));
}

/**
 * Where savepoints go: the spec's own setting, else the workspace storage's
 * `<storage>/<name>/savepoints`, else `<savepointBaseDir>/<name>`, else a local default.
 */
export function savepointDir(ctx: DeploymentContext): string {
  const own = storageSavepointDir(ctx.spec, ctx.storage);
  if (own) return own;
  const base = ctx.savepointBaseDir ?? "file:///flink-data/savepoints";
  return `${base}/${ctx.spec.name}`;
}

/** Memory quantity -> Flink memory size in MiB (`1Gi` -> `1024m`). */
export function flinkMemory(quantity: string): string {
  return `${Math.floor(parseQuantity(quantity) / 2 ** 20)}m`;
}

/**
 * What Meridian itself sets in every config.yaml: exactly the keys of MERIDIAN_OWNED_FLINK_KEYS, which
 * the protocol refuses in a spec's flinkConfiguration (a test keeps the two lists equal).
 */
export function meridianFlinkConfig(ctx: DeploymentContext): Record<string, string> {
  const { spec } = ctx;
  return {
    "jobmanager.rpc.address": serviceHost(spec.name, ctx.namespace),
    "jobmanager.rpc.port": String(PORT_RPC),
    "blob.server.port": String(PORT_BLOB),
    "rest.port": String(PORT_REST),
    "taskmanager.rpc.port": String(PORT_TM_RPC),
    "taskmanager.numberOfTaskSlots": String(spec.taskManager.taskSlots),
    "parallelism.default": String(spec.parallelism),
    // The JobManager stays up after the job ends so the final state and savepoint can be read.
    "execution.shutdown-on-application-finish": "false",
    ...haOwnedConfig(spec.name, ctx.namespace),
  };
}

/**
 * The effective Flink configuration: defaults < spec < what Meridian must own. A spec from the
 * control plane holds none of Meridian's keys (the protocol refuses them); one stored by an older
 * version may, and Meridian's values still win for it.
 */
export function flinkConfig(ctx: DeploymentContext): Record<string, string> {
  const { spec } = ctx;
  return {
    ...DEFAULT_FLINK_CONFIG,
    ...checkpointDefaults(spec, ctx.storage),
    ...haDefaults(spec, ctx.storage),
    "jobmanager.memory.process.size": flinkMemory(spec.jobManager.resources.memory),
    "taskmanager.memory.process.size": flinkMemory(spec.taskManager.resources.memory),
    ...spec.flinkConfiguration,
    // Reactive mode (adaptive scheduler): the job uses every slot; wins over the spec's own key.
    ...(isReactive(spec) ? { "scheduler-mode": "reactive" } : {}),
    ...storageFlinkConfig(spec, ctx.storage),
    "execution.checkpointing.savepoint-dir": savepointDir(ctx),
    ...meridianFlinkConfig(ctx),
  };
}

export const LOG4J_CONSOLE = `rootLogger.level = INFO
rootLogger.appenderRef.console.ref = ConsoleAppender
appender.console.name = ConsoleAppender
appender.console.type = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
`;

function labels(ctx: DeploymentContext, component?: string): Record<string, string> {
  return meridianLabels(MANAGED_BY_WORKSPACE_AGENT, {
    [LABEL_WORKSPACE]: ctx.workspaceId,
    [LABEL_DEPLOYMENT]: ctx.spec.name,
    [LABEL_COMPONENT]: component ?? "flink-config",
  });
}

/** Labels that select one component's pods of one deployment. */
export function podSelector(deployment: string, component?: string): Record<string, string> {
  const s: Record<string, string> = { [LABEL_DEPLOYMENT]: deployment };
  if (component) s[LABEL_COMPONENT] = component;
  return s;
}

/**
 * The ConfigMap; `state` is the serialized lifecycle state kept in its annotation, `orphanedSince`
 * the orphan mark it carries while the deployment is orphaned (shared/src/controller/orphan.ts).
 */
export function buildConfigMap(
  ctx: DeploymentContext,
  state: string,
  orphanedSince?: string,
  streamMark?: string,
): V1ConfigMap {
  const annotations: Record<string, string> = {
    [ANNOTATION_SPEC_HASH]: specHash(ctx.spec),
    [ANNOTATION_STATE]: state,
  };
  if (orphanedSince !== undefined) annotations[ANNOTATION_ORPHANED_SINCE] = orphanedSince;
  if (streamMark !== undefined) annotations[ANNOTATION_STREAM_MARK] = streamMark;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: names.configMap(ctx.spec.name),
      namespace: ctx.namespace,
      labels: labels(ctx),
      annotations,
    },
    data: {
      "config.yaml": renderConfigYaml(flinkConfig(ctx)),
      "log4j-console.properties": LOG4J_CONSOLE,
    },
  };
}

export function ownerReference(owner: Owner): V1OwnerReference {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function buildService(ctx: DeploymentContext, owner: Owner): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: names.service(ctx.spec.name),
      namespace: ctx.namespace,
      labels: labels(ctx, COMPONENT_JOBMANAGER),
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      type: "ClusterIP",
      selector: podSelector(ctx.spec.name, COMPONENT_JOBMANAGER),
      // TaskManagers register while the JobManager is still starting.
      publishNotReadyAddresses: true,
      ports: [
        { name: "rpc", port: PORT_RPC, targetPort: PORT_RPC, protocol: "TCP" },
        { name: "blob", port: PORT_BLOB, targetPort: PORT_BLOB, protocol: "TCP" },
        { name: "rest", port: PORT_REST, targetPort: PORT_REST, protocol: "TCP" },
      ],
    },
  };
}

/** `standalone-job` arguments of the official image's entrypoint. */
export function jobManagerArgs(
  spec: DeploymentSpec,
  restoreFrom: string | undefined,
  jobId?: string | undefined,
): string[] {
  const args = ["standalone-job", "--job-classname", spec.job.entryClass];
  if (restoreFrom) {
    args.push("--fromSavepoint", restoreFrom);
    if (spec.job.allowNonRestoredState) args.push("--allowNonRestoredState");
  }
  if (jobId) args.push("--job-id", jobId);
  return [...args, ...spec.job.args];
}

export function buildJobManagerPod(ctx: DeploymentContext, owner: Owner, run: PodRun): V1Pod {
  const ports = [
    { name: "rpc", containerPort: PORT_RPC },
    { name: "blob", containerPort: PORT_BLOB },
    { name: "rest", containerPort: PORT_REST },
  ];
  const container: V1Container = {
    ...containerBase(ctx, "jobmanager", ctx.spec.jobManager.resources),
    // The fixed job id is what Kubernetes HA finds the job's metadata by; without HA it serves nothing.
    args: jobManagerArgs(ctx.spec, run.restoreFrom, runsHa(ctx) ? run.jobId : undefined),
    ports,
    readinessProbe: { tcpSocket: { port: "rest" }, periodSeconds: 5, failureThreshold: 3 },
    livenessProbe: {
      tcpSocket: { port: "rpc" },
      initialDelaySeconds: 60,
      periodSeconds: 10,
      failureThreshold: 6,
    },
  };
  return pod(ctx, owner, run, names.jobManagerPod(ctx.spec.name), "jobManager", container);
}

export function buildTaskManagerPod(ctx: DeploymentContext, owner: Owner, run: PodRun, index: number): V1Pod {
  const container: V1Container = {
    ...containerBase(ctx, "taskmanager", ctx.spec.taskManager.resources),
    args: ["taskmanager"],
    ports: [{ name: "rpc", containerPort: PORT_TM_RPC }],
    livenessProbe: {
      tcpSocket: { port: "rpc" },
      initialDelaySeconds: 60,
      periodSeconds: 10,
      failureThreshold: 6,
    },
  };
  const name = names.taskManagerPod(ctx.spec.name, index);
  return pod(ctx, owner, run, name, "taskManager", container);
}

/** Meridian's volumes in every Flink pod (and `plugins` when storage needs it) and their mounts. */
const OWN_VOLUMES = ["flink-config", "tmp", "log"] as const;
/**
 * Kubernetes HA's API access: a projected token of the Flink ServiceAccount (its Role: the HA
 * ConfigMaps), the cluster's CA and the namespace, at the standard path, in the Flink container only
 * (never in a sidecar or init container), and only while the deployment runs HA.
 */
export const KUBE_API_VOLUME = "kube-api-access";
export const KUBE_API_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The token's lifetime; the kubelet renews it at 80 %, Flink's client re-reads the file. */
export const KUBE_API_TOKEN_SECONDS = 3600;
const OWN_MOUNTS = [
  { name: "flink-config", mountPath: "/opt/flink/conf", readOnly: true },
  { name: "tmp", mountPath: "/tmp" },
  { name: "log", mountPath: "/opt/flink/log" },
];

function containerBase(
  ctx: DeploymentContext,
  name: string,
  res: { cpu: string; memory: string },
): V1Container {
  const resources = { cpu: res.cpu, memory: res.memory };
  return {
    name,
    image: ctx.spec.image,
    imagePullPolicy: "IfNotPresent",
    env: [
      { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      ...storageEnv(ctx.spec, ctx.storage),
    ],
    resources: { requests: resources, limits: resources },
    volumeMounts: [
      ...OWN_MOUNTS,
      ...(needsPluginsDir(ctx.spec, ctx.storage) ? [{ name: "plugins", mountPath: PLUGINS_DIR }] : []),
      ...(runsHa(ctx) ? [{ name: KUBE_API_VOLUME, mountPath: KUBE_API_MOUNT, readOnly: true }] : []),
    ],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: FLINK_UID,
      runAsGroup: FLINK_UID,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
  };
}

function pod(
  ctx: DeploymentContext,
  owner: Owner,
  run: PodRun,
  name: string,
  flinkComponent: FlinkComponent,
  container: V1Container,
): V1Pod {
  const component = flinkComponent === "jobManager" ? COMPONENT_JOBMANAGER : COMPONENT_TASKMANAGER;
  const template = effectivePodTemplate(ctx.spec, flinkComponent);
  return applyPodTemplate(
    built(ctx, owner, run, name, component, container),
    template,
    ctx.imagePullSecrets ?? [],
  );
}

/** What Meridian puts into every Flink pod of `ctx`: a pod template may not name it again. */
export function ownedPodParts(spec: DeploymentSpec, storage: FlinkStorage | undefined): OwnedPodParts {
  return {
    volumes: [...OWN_VOLUMES, "plugins", KUBE_API_VOLUME],
    mountPaths: [...OWN_MOUNTS.map((m) => m.mountPath), PLUGINS_DIR, KUBE_API_MOUNT],
    env: ["POD_IP", ...storageEnv(spec, storage).map((e) => e.name)],
  };
}

function built(
  ctx: DeploymentContext,
  owner: Owner,
  run: PodRun,
  name: string,
  component: string,
  container: V1Container,
): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: ctx.namespace,
      labels: { ...storagePodLabels(ctx.storage), ...labels(ctx, component) },
      annotations: { [ANNOTATION_RUN]: String(run.id), [ANNOTATION_SPEC_HASH]: run.specHash },
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      // The kubelet restarts a TaskManager that dies, and with Kubernetes HA a JobManager too, also
      // while the workspace agent is away: the job resumes from its latest checkpoint (decision 43).
      // Without HA a JobManager restarted in place would restore from the savepoint its arguments
      // name, not the newest one: the workspace agent recreates it instead, as before.
      restartPolicy: component === COMPONENT_JOBMANAGER && !runsHa(ctx) ? "Never" : "Always",
      // The Flink ServiceAccount (HA's ConfigMaps only): never the workspace agent's token, and its own
      // token only in the Flink container of a deployment that runs HA (KUBE_API_VOLUME).
      ...(ctx.storage?.serviceAccount ? { serviceAccountName: ctx.storage.serviceAccount } : {}),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 30,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: FLINK_UID,
        runAsGroup: FLINK_UID,
        fsGroup: FLINK_UID,
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [container],
      volumes: [
        { name: "flink-config", configMap: { name: names.configMap(ctx.spec.name) } },
        { name: "tmp", emptyDir: {} },
        { name: "log", emptyDir: {} },
        ...(needsPluginsDir(ctx.spec, ctx.storage) ? [{ name: "plugins", emptyDir: {} }] : []),
        ...(runsHa(ctx) ? [kubeApiVolume()] : []),
      ],
    },
  };
}

/** Whether the deployment's Flink configuration runs Kubernetes HA (state-config.ts). */
export function runsHa(ctx: DeploymentContext): boolean {
  return haEnabled(flinkConfig(ctx));
}

function kubeApiVolume() {
  return {
    name: KUBE_API_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { path: "token", expirationSeconds: KUBE_API_TOKEN_SECONDS } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        {
          downwardAPI: {
            items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }],
          },
        },
      ],
    },
  };
}
