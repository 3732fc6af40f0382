// The lifecycle state of one Flink deployment, persisted as JSON in an annotation of the deployment's
// ConfigMap before every step is acted on, so a restarted workspace agent resumes an operation
// where it was instead of repeating or forgetting it. Parsed leniently: an unreadable annotation is
// reported and treated as "no state" by the caller, never thrown through the reconcile loop.
import { compareStamps, type Held, heldOf, type Stamp } from "@meridian/shared/controller/epoch";
import { deploymentSpec, desiredJobState, savepointInfo } from "@meridian/shared/protocol/index";
import { z } from "zod";

export const operationKind = z.enum([
  "suspend",
  "cancel",
  "savepoint",
  "restart",
  "upgrade",
  "delete",
  /** A LAST_STATE start after a suspend: from the HA metadata the suspend kept. */
  "resume",
]);
export type OperationKind = z.infer<typeof operationKind>;

export const operationStep = z.enum([
  /** Take a (stop-with-)savepoint; the trigger id is chosen and recorded before the POST. */
  "savepoint",
  /** Poll the recorded trigger until the savepoint completes or fails. */
  "awaitSavepoint",
  /** Cancel the job (`PATCH /jobs/:id?mode=cancel`). */
  "cancel",
  /** Wait (briefly) for the job to reach a terminal state. */
  "awaitCancel",
  /**
   * LAST_STATE: make sure the HA metadata holds a completed checkpoint of the job before anything is
   * stopped (blocked with LastStateUnavailable when it does not).
   */
  "checkLastState",
  /** Delete the JobManager and TaskManager pods and wait until they are gone. */
  "removePods",
  /** Delete pods, Service and finally the ConfigMap (and with it this state). */
  "removeAll",
]);
export type OperationStep = z.infer<typeof operationStep>;

export const blocked = z.object({
  reason: z.string(),
  message: z.string(),
  since: z.string(),
  retryAt: z.string(),
});
export type Blocked = z.infer<typeof blocked>;

export const operation = z.object({
  kind: operationKind,
  step: operationStep,
  startedAt: z.string(),
  stepAt: z.string(),
  /** Savepoint step: stop the job with the savepoint (true) or keep it running (false). */
  stop: z.boolean(),
  triggerId: z.string().optional(),
  jobId: z.string().optional(),
  /** The nonce this operation serves (savepoint or restart nonce). */
  nonce: z.number().int().optional(),
  /** The trigger was polled while the job was not running, and Flink did not know it. */
  probed: z.boolean().default(false),
  attempts: z.number().int().min(0).default(0),
  blocked: blocked.optional(),
  /** Savepoint taken (or reused) by this operation. */
  savepoint: z.string().optional(),
  /** LAST_STATE: the job whose HA metadata the next run continues (same job id, latest checkpoint). */
  lastStateJobId: z.string().optional(),
  /** LAST_STATE: the savepoint the continued run falls back to should Flink find no checkpoint. */
  fallbackRestore: z.string().optional(),
  /** The deployment's HA ConfigMaps were cleaned up after the pods went (all but lastStateJobId's). */
  haReset: z.boolean().optional(),
  /** A savepoint operation started by the spec's periodic interval, not by a nonce. */
  periodic: z.boolean().optional(),
});
export type Operation = z.infer<typeof operation>;

export const run = z.object({
  id: z.number().int().min(1),
  specHash: z.string(),
  restoreFrom: z.string().optional(),
  startedAt: z.string(),
  /** The job of this run has been seen RUNNING (until then its restore savepoint is still current). */
  everRunning: z.boolean().default(false),
  /** The job's fixed id (`--job-id`), the state lineage's (state-config.ts); absent for older runs. */
  jobId: z.string().optional(),
  /** The savepoint the run was started from (restoreFrom moves on with each savepoint it takes). */
  startedFrom: z.string().optional(),
});
export type Run = z.infer<typeof run>;

/**
 * The spec as stored: a version before the flinkConfiguration rules accepted keys the protocol now
 * refuses (keys Meridian owns and overrides, for one). A deployment started with such a spec keeps
 * running and being repaired; a new spec from the control plane must pass the protocol's rules.
 */
const storedSpec = deploymentSpec.extend({
  flinkConfiguration: z.record(z.string(), z.string()).default({}),
});

export const lifecycleState = z.object({
  v: z.literal(1),
  /** The spec the objects are built from: the deployed run's, or the last one deployed. */
  spec: storedSpec,
  /** What the pods currently are for; undefined when no pods should exist. */
  run: run.optional(),
  nextRunId: z.number().int().min(1),
  /** The desired job state last reached. */
  target: desiredJobState,
  op: operation.optional(),
  observedRestartNonce: z.number().int().min(0),
  observedSavepointNonce: z.number().int().min(0),
  /** Newest last, at most MAX_SAVEPOINTS. */
  savepoints: z.array(savepointInfo).default([]),
  /**
   * The newest spec generation accepted from the control plane, when it is newer than `spec` (an
   * upgrade not deployed yet, a change while suspended). Persisted so that after a restart a spec
   * older than it is still refused: generations only move forward.
   */
  acceptedGeneration: z.number().int().min(1).optional(),
  /** The control-plane epoch of `acceptedGeneration` (absent: 0; decisions.md 42). */
  acceptedEpoch: z.number().int().min(1).optional(),
  /**
   * The job whose HA metadata a LAST_STATE suspend kept (pods removed, no savepoint): what a LAST_STATE
   * resume continues. Cleared when that metadata is cleaned up or used.
   */
  haJobId: z.string().optional(),
  /** The last savepoint disposal failed: none is tried again before retryAt (savepoint-history.ts). */
  disposal: z
    .object({ location: z.string(), attempts: z.number().int().min(1), retryAt: z.string() })
    .optional(),
});
export type LifecycleState = z.infer<typeof lifecycleState>;

/** The generation a deployment holds: no spec older than this is acted on. */
export function heldGeneration(state: LifecycleState): number {
  return heldStamp(state).generation;
}

/**
 * The generation a deployment holds with its control-plane epoch, and the digest of its spec when
 * that spec is the one held (not while a newer accepted one waits, whose content is not kept).
 */
export function heldStamp(state: LifecycleState): Held {
  const spec = heldOf(state.spec);
  if (state.acceptedGeneration === undefined) return spec;
  const accepted = { epoch: state.acceptedEpoch ?? 0, generation: state.acceptedGeneration };
  return compareStamps(accepted, spec) > 0 ? accepted : spec;
}

/**
 * Records that `stamp` was accepted. Written only when it is ahead of what is held, so a deployment
 * whose spec keeps up never carries (or rewrites) the fields.
 */
export function acceptGeneration(state: LifecycleState, stamp: Stamp): void {
  if (compareStamps(stamp, heldStamp(state)) <= 0) return;
  state.acceptedGeneration = stamp.generation;
  if (stamp.epoch > 0) state.acceptedEpoch = stamp.epoch;
  else delete state.acceptedEpoch;
}

/**
 * The savepoint history kept in the state: above the retention's largest maxCount (30), so a savepoint
 * is disposed before it could fall off the list. Savepoints falling off are forgotten, not disposed.
 */
export const MAX_SAVEPOINTS = 32;

/** Canonical JSON (the schema's key order), so equal states always serialize to equal text. */
export function serializeState(state: LifecycleState): string {
  return JSON.stringify(lifecycleState.parse(state));
}

export type ParsedState = { ok: true; state: LifecycleState | undefined } | { ok: false; error: string };

/** Parses the annotation; absent means "no state yet". */
export function parseState(text: string | undefined): ParsedState {
  if (text === undefined || text === "") return { ok: true, state: undefined };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `lifecycle state is not JSON: ${(err as Error).message}` };
  }
  const r = lifecycleState.safeParse(json);
  if (!r.success) return { ok: false, error: `lifecycle state is invalid: ${r.error.issues[0]?.message}` };
  return { ok: true, state: r.data };
}
