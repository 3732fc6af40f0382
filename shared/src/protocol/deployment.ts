// The Flink deployment: desired state of one Flink application, and its reported status.
import { z } from "zod";
import {
  condition,
  dns1035Label,
  epoch,
  generation,
  imageReference,
  rejectedEvents,
  resources,
} from "./common.ts";
import { flinkConfiguration } from "./flink-configuration.ts";
import {
  formatBytes,
  MAX_CLASS_NAME_LENGTH,
  MAX_DEPLOYMENT_SPEC_BYTES,
  MAX_JOB_ARG_LENGTH,
  MAX_JOB_ARGS,
  MAX_URI_LENGTH,
} from "./limits.ts";
import { podTemplate } from "./pod-template.ts";

export const desiredJobState = z.enum(["RUNNING", "SUSPENDED", "CANCELLED"]);
export type DesiredJobState = z.infer<typeof desiredJobState>;
/**
 * How an upgrade, a restart and a resume treat the job's state: `SAVEPOINT` through a savepoint,
 * `LAST_STATE` from the latest checkpoint through the Kubernetes HA metadata (no savepoint),
 * `STATELESS` without state. See docs/flink-deployments.md.
 */
export const upgradeMode = z.enum(["STATELESS", "SAVEPOINT", "LAST_STATE"]);
export type UpgradeMode = z.infer<typeof upgradeMode>;

/** Periodic savepoints: at most one a minute, at least one a week. */
export const MIN_SAVEPOINT_INTERVAL_SECONDS = 60;
const WEEK_SECONDS = 7 * 24 * 3600;

export const savepointPolicy = z.object({
  /** Take a savepoint (the job keeps running) this long after the newest one; absent: never. */
  intervalSeconds: z.number().int().min(MIN_SAVEPOINT_INTERVAL_SECONDS).max(WEEK_SECONDS).optional(),
  /**
   * Which recorded savepoints are kept; the others are disposed. Never disposed: the newest, the one
   * the running job was restored from. Defaults to maxCount 10, no age limit.
   */
  retention: z
    .object({
      maxCount: z.number().int().min(1).max(30).optional(),
      maxAgeSeconds: z
        .number()
        .int()
        .min(MIN_SAVEPOINT_INTERVAL_SECONDS)
        .max(365 * 24 * 3600)
        .optional(),
    })
    .optional(),
});
export type SavepointPolicy = z.infer<typeof savepointPolicy>;

export const deploymentSpec = z.object({
  /**
   * At most 40 characters so `<name>-taskmanager-<n>` fits a 63-character pod name; starts with a letter
   * because `<name>-jobmanager` becomes a Service name (DNS-1035).
   */
  name: dns1035Label(40),
  generation,
  epoch: epoch.optional(),
  image: imageReference,
  job: z.object({
    /** Path of the job jar inside the image, e.g. `local:///opt/flink/usrlib/job.jar`. */
    jarURI: z.string().min(1).max(MAX_URI_LENGTH),
    entryClass: z
      .string()
      .max(MAX_CLASS_NAME_LENGTH)
      .regex(/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/, "must be a Java class name"),
    args: z.array(z.string().max(MAX_JOB_ARG_LENGTH)).max(MAX_JOB_ARGS).default([]),
    allowNonRestoredState: z.boolean().default(false),
    /**
     * The savepoint the deployment's first run restores from (the Flink Kubernetes Operator's
     * `job.initialSavepointPath`), e.g. the final savepoint of a deleted workspace with the same id;
     * ignored once the deployment has run (a change of it alone redeploys nothing). With workspace
     * storage it must lie under the workspace's storage.baseURI. docs/flink-deployments.md.
     */
    initialSavepointPath: z.string().min(1).max(MAX_URI_LENGTH).optional(),
  }),
  parallelism: z.number().int().min(1).max(1024),
  /** Partial Pod merged into the JobManager and TaskManager pods (pod-template.ts, docs/flink-deployments.md). */
  podTemplate: podTemplate.optional(),
  jobManager: z.object({ resources, podTemplate: podTemplate.optional() }),
  taskManager: z.object({
    resources,
    podTemplate: podTemplate.optional(),
    taskSlots: z.number().int().min(1).max(64),
    /** Defaults to ceil(parallelism / taskSlots). */
    replicas: z.number().int().min(1).max(256).optional(),
  }),
  /** Flink options by key; see flink-configuration.ts for what is refused. */
  flinkConfiguration: flinkConfiguration.default({}),
  state: desiredJobState,
  restartNonce: z.number().int().min(0).default(0),
  savepointNonce: z.number().int().min(0).default(0),
  upgradeMode: upgradeMode.default("SAVEPOINT"),
  /**
   * Periodic savepoints and the savepoint history's retention (docs/flink-deployments.md#savepoint-history).
   * Absent: no periodic savepoints, and no savepoint is ever disposed. A change of it alone redeploys
   * nothing. An older workspace agent ignores it (its schema strips it).
   */
  savepoints: savepointPolicy.optional(),
  /**
   * How the job rescales. `reactive`: Flink's reactive mode (the adaptive scheduler, `scheduler-mode:
   * reactive`): the job always runs on every TaskManager slot, bounded by its max parallelism, so a
   * change of the TaskManager count, or of a parallelism that only sets that count, is applied in
   * place: TaskManager pods are added or removed and Flink rescales the job itself, no upgrade.
   * Absent: the job runs with `parallelism`, and changing it is an upgrade. Switching it is an upgrade.
   * An older workspace agent ignores it (its schema strips it). docs/flink-deployments.md#rescaling.
   */
  scaling: z.object({ mode: z.enum(["reactive"]) }).optional(),
});
export type DeploymentSpec = z.infer<typeof deploymentSpec>;

/** The deployment runs in Flink's reactive mode (`scaling.mode: reactive`). */
export function isReactive(spec: Pick<DeploymentSpec, "scaling">): boolean {
  return spec.scaling?.mode === "reactive";
}

/**
 * A deployment spec as the workspace stream accepts it: `deploymentSpec`, and at most
 * MAX_DEPLOYMENT_SPEC_BYTES as JSON (see limits.ts for why).
 */
export const streamedDeploymentSpec = deploymentSpec.superRefine((spec, ctx) => {
  const bytes = new TextEncoder().encode(JSON.stringify(spec)).length;
  if (bytes > MAX_DEPLOYMENT_SPEC_BYTES)
    ctx.addIssue({
      code: "custom",
      message: `the spec takes ${bytes} bytes as JSON, more than the limit of ${formatBytes(MAX_DEPLOYMENT_SPEC_BYTES)} for one deployment; shorten job.args, flinkConfiguration or the pod templates`,
    });
});
export type DeploymentSpecInput = z.input<typeof deploymentSpec>;

/** Number of TaskManager pods a spec asks for. */
export function taskManagerReplicas(spec: DeploymentSpec): number {
  return spec.taskManager.replicas ?? Math.ceil(spec.parallelism / spec.taskManager.taskSlots);
}

/**
 * Job state as seen from Flink. Flink's own states, plus three that say what we could not see:
 * NOT_FOUND (the JobManager answered but has no such job), UNREACHABLE (no answer from the
 * JobManager), NOT_DEPLOYED (no JobManager exists, e.g. while suspended).
 */
/** The job states Flink's REST API itself reports. */
export const FLINK_JOB_STATES = [
  "INITIALIZING",
  "CREATED",
  "RUNNING",
  "FAILING",
  "FAILED",
  "CANCELLING",
  "CANCELED",
  "FINISHED",
  "RESTARTING",
  "SUSPENDED",
  "RECONCILING",
] as const;
export const jobState = z.enum([...FLINK_JOB_STATES, "NOT_FOUND", "UNREACHABLE", "NOT_DEPLOYED"]);
export type JobState = z.infer<typeof jobState>;

export const savepointInfo = z.object({
  location: z.string(),
  time: z.iso.datetime(),
  /**
   * What asked for it: a savepoint nonce, a suspend, an upgrade, a delete, or the spec's periodic
   * interval (`periodic` only for a spec with `savepoints.intervalSeconds`, which only a control plane
   * that knows the value can send).
   */
  trigger: z.enum(["nonce", "suspend", "upgrade", "restart", "delete", "periodic"]),
  nonce: z.number().int().optional(),
});
export type SavepointInfo = z.infer<typeof savepointInfo>;

/**
 * The job's checkpoints as Flink's REST API reports them (`/jobs/:id/checkpoints`): counts, the latest
 * completed checkpoint, the checkpoint or savepoint the job was restored from, and the latest failure.
 */
export const checkpointStatus = z.object({
  completed: z.number().int().min(0),
  failed: z.number().int().min(0),
  inProgress: z.number().int().min(0),
  latest: z
    .object({
      id: z.number().int().min(0),
      time: z.iso.datetime(),
      sizeBytes: z.number().int().min(0),
      durationMs: z.number().int().min(0),
      location: z.string().optional(),
    })
    .optional(),
  restored: z
    .object({
      id: z.number().int().min(0),
      time: z.iso.datetime(),
      savepoint: z.boolean(),
      location: z.string().optional(),
    })
    .optional(),
  lastFailure: z
    .object({ id: z.number().int().min(0), time: z.iso.datetime(), message: z.string() })
    .optional(),
});
export type CheckpointStatus = z.infer<typeof checkpointStatus>;

export const podSummary = z.object({
  name: z.string(),
  phase: z.string(),
  ready: z.boolean(),
  restarts: z.number().int().min(0),
});

export const deploymentPhase = z.enum([
  "Pending",
  "Deploying",
  "Running",
  "Upgrading",
  "Suspending",
  "Suspended",
  "Cancelling",
  "Cancelled",
  "Failed",
  "Refused",
  "Deleting",
  "Deleted",
]);
export type DeploymentPhase = z.infer<typeof deploymentPhase>;

export const deploymentStatus = z.object({
  name: z.string(),
  observedGeneration: z.number().int().min(0),
  phase: deploymentPhase,
  job: z.object({
    id: z.string().optional(),
    state: jobState,
    startTime: z.iso.datetime().optional(),
  }),
  jobManager: podSummary.optional(),
  taskManagers: z.object({
    desired: z.number().int().min(0),
    ready: z.number().int().min(0),
    pods: z.array(podSummary),
  }),
  slots: z.object({ total: z.number().int().min(0), available: z.number().int().min(0) }).optional(),
  lastSavepoint: savepointInfo.optional(),
  savepoints: z.array(savepointInfo),
  /** Present while the JobManager answers for a job. */
  checkpoints: checkpointStatus.optional(),
  observedRestartNonce: z.number().int().min(0),
  observedSavepointNonce: z.number().int().min(0),
  conditions: z.array(condition),
});
export type DeploymentStatus = z.infer<typeof deploymentStatus>;

/** Body of `POST /v1/workspaces/{workspaceId}/status`. Level-based: the latest replaces the previous. */
export const workspaceAgentStatus = z.object({
  workspaceId: z.string(),
  agent: z.object({ version: z.string(), identity: z.string(), startedAt: z.iso.datetime() }),
  lastEventId: z.string().optional(),
  deployments: z.array(deploymentStatus),
  rejectedEvents,
});
export type WorkspaceAgentStatus = z.infer<typeof workspaceAgentStatus>;
