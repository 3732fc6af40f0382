// How a Flink deployment keeps and recovers its state, pure: checkpointing on by default
// (exactly-once, an interval, a timeout, tolerable failures, checkpoints retained on cancellation where
// they have a durable directory), Kubernetes HA on by default where the workspace has storage (HA
// metadata under `<base>/<name>/ha`, a cluster id per deployment, a fixed job id per state lineage),
// and the names Flink gives the HA ConfigMaps, which the workspace agent reads (is there a checkpoint
// to resume from?) and deletes (when the deployment's state no longer needs them). A spec may change
// every default here in its flinkConfiguration; the cluster id and namespace are Meridian's.
import { createHash } from "node:crypto";
import type { DeploymentSpec } from "@meridian/shared/protocol/index";
import { checkpointDir, deploymentBase, type FlinkStorage, HA_STORAGE_DIR_KEY } from "./storage.ts";

/** Checkpointing every deployment gets unless its flinkConfiguration says otherwise. */
export const CHECKPOINT_DEFAULTS: Readonly<Record<string, string>> = {
  "execution.checkpointing.interval": "30 s",
  "execution.checkpointing.mode": "EXACTLY_ONCE",
  "execution.checkpointing.timeout": "10 min",
  "execution.checkpointing.tolerable-failed-checkpoints": "3",
  "execution.checkpointing.num-retained": "3",
};

/** Checkpoints kept when the job is cancelled (only where they have a durable directory). */
export const CHECKPOINT_RETENTION = {
  "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
} as const;

export const HA_TYPE_KEYS = ["high-availability.type", "high-availability"] as const;

/**
 * The labels Flink 2 puts on its HA ConfigMaps (KubernetesUtils.getCommonLabels: `app=<cluster id>`,
 * `type=flink-native-kubernetes`; no `configmap-type` in standalone application mode, as seen on 2.3).
 */
export const HA_TYPE_LABEL = "type";
export const HA_TYPE = "flink-native-kubernetes";
/** Key prefix of a completed checkpoint's pointer in a job's HA ConfigMap. */
export const HA_CHECKPOINT_KEY_PREFIX = "checkpointID-";

/** Kubernetes HA's cluster id: the deployment's name (unique in the namespace, at most 40 characters). */
export function clusterId(deployment: string): string {
  return deployment;
}

/** The HA ConfigMap of the cluster (leader election, the job's execution plan). */
export function clusterConfigMapName(deployment: string): string {
  return `${clusterId(deployment)}-cluster-config-map`;
}

/** The HA ConfigMap of one job (its checkpoint counter and completed checkpoints). */
export function jobConfigMapName(deployment: string, jobId: string): string {
  return `${clusterId(deployment)}-${jobId}-config-map`;
}

/** Labels that select every HA ConfigMap of one deployment. */
export function haConfigMapSelector(deployment: string): Record<string, string> {
  return { app: clusterId(deployment), [HA_TYPE_LABEL]: HA_TYPE };
}

/**
 * The fixed job id of a state lineage (application mode with HA needs one): derived from the
 * namespace, the deployment and the run that started the lineage. A run that continues from the HA
 * metadata (LAST_STATE) keeps its predecessor's id; every other run starts a new lineage.
 */
export function lineageJobId(namespace: string, deployment: string, runId: number): string {
  return createHash("sha256").update(`${namespace}/${deployment}/run-${runId}`).digest("hex").slice(0, 32);
}

/**
 * Checkpointing defaults, and retention on cancellation when the checkpoints have a directory (a
 * checkpoint kept in the JobManager's memory cannot be retained).
 */
export function checkpointDefaults(
  spec: DeploymentSpec,
  storage: FlinkStorage | undefined,
): Record<string, string> {
  return checkpointDir(spec, storage)
    ? { ...CHECKPOINT_DEFAULTS, ...CHECKPOINT_RETENTION }
    : { ...CHECKPOINT_DEFAULTS };
}

/** Kubernetes HA where the workspace has storage: `<base>/<name>/ha`. Without storage, none by default. */
export function haDefaults(spec: DeploymentSpec, storage: FlinkStorage | undefined): Record<string, string> {
  if (!storage?.baseURI) return {};
  return {
    "high-availability.type": "kubernetes",
    [HA_STORAGE_DIR_KEY]: `${deploymentBase(storage.baseURI, spec.name)}/ha`,
  };
}

/** What Meridian sets for HA whatever the spec says (cluster id and namespace; harmless without HA). */
export function haOwnedConfig(deployment: string, namespace: string): Record<string, string> {
  return {
    "kubernetes.cluster-id": clusterId(deployment),
    "high-availability.cluster-id": clusterId(deployment),
    "kubernetes.namespace": namespace,
  };
}

/** Whether an effective Flink configuration runs Kubernetes HA (a type and a storage directory). */
export function haEnabled(config: Readonly<Record<string, string>>): boolean {
  const type = HA_TYPE_KEYS.map((k) => config[k]).find((v) => v !== undefined && v !== "");
  const kubernetes =
    type !== undefined &&
    (type.toLowerCase() === "kubernetes" || type.endsWith("KubernetesHaServicesFactory"));
  return kubernetes && Boolean(config[HA_STORAGE_DIR_KEY]);
}
