// What a Flink deployment's reconcile works with: the wiring (DeploymentDeps: the client, the watch
// caches, desired state, the Flink monitor, Events, status), one run's bookkeeping (DeploymentRun:
// writes made, when to look again) and the reads every step of a run shares (the deployment's
// pods, its JobManager, the context its objects are built from).
import type { V1ConfigMap, V1Pod, V1Service } from "@kubernetes/client-node";
import type { KubeClient } from "@meridian/shared/kube/client";
import type { EventType } from "@meridian/shared/kube/events";
import { COMPONENT_JOBMANAGER, LABEL_DEPLOYMENT } from "@meridian/shared/kube/labels";
import type { KubeObject, ResourceType } from "@meridian/shared/kube/resources";
import type { WatchCache } from "@meridian/shared/kube/watch-cache";
import type { Logger } from "@meridian/shared/log";
import type { DeploymentSpec, DeploymentStatus } from "@meridian/shared/protocol/index";
import type { PodTemplate } from "@meridian/shared/protocol/pod-template";
import type { DeploymentRecord } from "./deployment-record.ts";
import type { DesiredStore } from "./desired.ts";
import type { FlinkMonitor } from "./monitor.ts";
import type { NameGuard } from "./name-guard.ts";
import type { DeploymentContext } from "./objects.ts";
import { componentOf, isFlinkPod, isTerminating, type PodBackoff } from "./pods.ts";
import type { FlinkStorage } from "./storage.ts";

/** client-node's typed objects, as the watch caches hold them. */
export type PodObject = V1Pod & KubeObject;
export type ConfigMapObject = V1ConfigMap & KubeObject;
export type ServiceObject = V1Service & KubeObject;

export interface DeploymentSettings {
  namespace: string;
  workspaceId: string;
  savepointBaseDir: string | undefined;
  /** The workspace's storage and identity (MERIDIAN_STORAGE_*, MERIDIAN_FLINK_*; storage.ts). */
  storage?: FlinkStorage | undefined;
  /** The local policy's rules for specs (Flink image registries, job jar locations). */
  allowedRegistries: string[];
  /** Remote job jar locations; empty = none (only `local://` paths inside the image). */
  allowedJarURIs: string[];
  /** Pull secrets every Flink pod names (MERIDIAN_FLINK_IMAGE_PULL_SECRETS). */
  imagePullSecrets?: string[] | undefined;
  /** The local policy's podTemplates rules (MERIDIAN_FLINK_POD_TEMPLATE_ALLOW_*); undefined: both allowed. */
  podTemplates?: { allowInitContainers: boolean; allowSidecars: boolean } | undefined;
  /** The workspace's default pod template (MERIDIAN_FLINK_DEFAULT_POD_TEMPLATE), under each deployment's own. */
  workspacePodTemplate?: PodTemplate | undefined;
  /** An orphan (no longer in the control plane's snapshot, never deleted explicitly) is deleted after this. */
  orphanGracePeriodMs: number;
  /** How long one second of a spec's `savepoints` settings lasts: 1000; shorter only in tests. */
  savepointSecondMs?: number | undefined;
}

export interface DeploymentWiring {
  client: KubeClient;
  pods: WatchCache<PodObject>;
  configMaps: WatchCache<ConfigMapObject>;
  services: WatchCache<ServiceObject>;
  desired: DesiredStore;
  monitor: FlinkMonitor;
  logger: Logger;
  /** Records a Kubernetes Event on the deployment's ConfigMap (never throws). */
  recordEvent: (cm: V1ConfigMap | undefined, type: EventType, reason: string, message: string) => void;
  onStatus: (name: string, status: DeploymentStatus | undefined) => void;
  onLifecycleStep?: (kind: string, step: string) => void;
  newTriggerId?: () => string;
}

/** What the process hands the deployment controller. */
export type DeploymentOptions = DeploymentSettings & DeploymentWiring;

/** The options plus what the controller itself keeps for every deployment. */
export interface DeploymentDeps extends DeploymentOptions {
  /** Creates the deployment's objects create-only, refusing names taken by objects that are not ours. */
  names: NameGuard;
  /** Crash-loop protection per pod name. */
  podBackoff: PodBackoff;
}

/** One reconcile of one deployment. */
export interface DeploymentRun {
  name: string;
  deps: DeploymentDeps;
  record: DeploymentRecord;
  log: Logger;
  signal: AbortSignal;
  /** Writes made so far (API writes, and each lifecycle action carried out). */
  writes: number;
  /** Look at the deployment again after this long (the earliest of several wishes). */
  requeueAfterMs: number | undefined;
  /** Objects this run created (not updated): what a refusal of a new deployment removes again. */
  createdHere: { type: ResourceType; name: string; uid: string | undefined }[];
}

/** This run created the deployment's ConfigMap: the deployment is new and nothing of it has run. */
export function createdThisRun(run: DeploymentRun): boolean {
  return run.createdHere.some((o) => o.type.kind === "ConfigMap");
}

/** Asks for another reconcile of the run's deployment after `ms` (the earliest request wins). */
export function requeue(run: DeploymentRun, ms: number): void {
  run.requeueAfterMs = run.requeueAfterMs === undefined ? ms : Math.min(run.requeueAfterMs, ms);
}

/** The deployment's JobManager and TaskManager pods, from the cache. */
export function podsOf(deps: DeploymentDeps, name: string): PodObject[] {
  return deps.pods.list((p) => p.metadata?.labels?.[LABEL_DEPLOYMENT] === name && isFlinkPod(p));
}

/** The deployment's JobManager pod, unless it is terminating. */
export function jobManagerOf(deps: DeploymentDeps, name: string): V1Pod | undefined {
  return podsOf(deps, name).find((p) => componentOf(p) === COMPONENT_JOBMANAGER && !isTerminating(p));
}

/** What the deployment's objects are built from. */
export function contextOf(deps: DeploymentSettings, spec: DeploymentSpec): DeploymentContext {
  return {
    workspaceId: deps.workspaceId,
    namespace: deps.namespace,
    spec,
    savepointBaseDir: deps.savepointBaseDir,
    storage: deps.storage,
    imagePullSecrets: deps.imagePullSecrets,
  };
}

/** Every deployment known: desired ones and those with a ConfigMap or pods in the cluster. */
export function knownNames(deps: DeploymentWiring): string[] {
  const fromCluster = deps.configMaps.list().map((cm) => cm.metadata?.labels?.[LABEL_DEPLOYMENT]);
  const fromPods = deps.pods.list().map((p) => p.metadata?.labels?.[LABEL_DEPLOYMENT]);
  return [...new Set([...deps.desired.names(), ...fromCluster, ...fromPods])].filter(
    (n): n is string => typeof n === "string" && n !== "",
  );
}
