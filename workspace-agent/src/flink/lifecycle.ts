// The lifecycle state machine of one Flink deployment, pure: (desired, persisted state, observed)
// -> (next state to persist, one action to carry out, events to record). The reconciler persists the
// state BEFORE it acts, carries out the action, feeds the outcome to `applyOutcome` (also pure),
// persists again, and loops until the action is idle or a wait. See docs/flink-deployments.md.
import { type BackoffPolicy, backoffDelay } from "@meridian/shared/backoff";
import { stampOf } from "@meridian/shared/controller/epoch";
import type { DeploymentSpec, JobState } from "@meridian/shared/protocol/index";
import {
  acceptGeneration,
  type LifecycleState,
  type Operation,
  type OperationKind,
  type OperationStep,
} from "./lifecycle-state.ts";

export type Desired = { deleted: false; spec: DeploymentSpec; specHash: string } | { deleted: true };

export interface Observed {
  now: Date;
  /** Any JobManager or TaskManager pod exists (terminating ones included). */
  podsPresent: boolean;
  job: { state: JobState; id?: string | undefined };
  /** `meridian.dev/force-delete=true` is on the ConfigMap. */
  forceDelete: boolean;
}

export interface DecideInput {
  desired: Desired;
  state: LifecycleState | undefined;
  observed: Observed;
  /** Hash of `state.spec` (objects.specHash), passed in to keep this module free of crypto. */
  stateSpecHash: string | undefined;
  savepointDir: string;
  newTriggerId: () => string;
}

export type Action =
  | { type: "idle" }
  | { type: "wait"; reason: string; ms: number }
  | { type: "triggerSavepoint"; jobId: string; triggerId: string; stop: boolean; directory: string }
  | { type: "pollSavepoint"; jobId: string; triggerId: string; probe: boolean }
  | { type: "cancelJob"; jobId: string }
  | { type: "removePods" }
  | { type: "removeAll" };

export interface LifecycleEvent {
  reason: string;
  message: string;
  warning?: boolean;
}

export interface Decision {
  /** undefined: the deployment is gone (nothing to persist, forget it). */
  state: LifecycleState | undefined;
  action: Action;
  events: LifecycleEvent[];
}

export type Outcome =
  | { type: "ok" }
  | { type: "unreachable"; message: string }
  | { type: "failed"; message: string }
  | { type: "notFound" }
  | { type: "inProgress" }
  | { type: "completed"; location: string }
  | { type: "gone"; gone: boolean };

/** Job states from which Flink can still take a savepoint soon, so waiting is right. */
const TRANSIENT: ReadonlySet<JobState> = new Set([
  "INITIALIZING",
  "CREATED",
  "RESTARTING",
  "RECONCILING",
  "FAILING",
  "UNREACHABLE",
  "NOT_FOUND",
]);
const CANCELLABLE: ReadonlySet<JobState> = new Set([
  "INITIALIZING",
  "CREATED",
  "RUNNING",
  "RESTARTING",
  "RECONCILING",
  "FAILING",
]);
/** How long a savepoint step waits for a transient job state before it reports itself blocked. */
export const TRANSIENT_BLOCK_AFTER_MS = 5 * 60_000;
/** How long awaitCancel waits for Flink before the pods are removed anyway. */
export const CANCEL_WAIT_MS = 30_000;

/** Retrying a failed savepoint: full jitter from 10 s doubling to 5 min, at least 5 s. */
export const SAVEPOINT_RETRY_BACKOFF: BackoffPolicy = { baseMs: 10_000, capMs: 300_000, floorMs: 5_000 };

/** Retry delay after the n-th (1-based) failed savepoint. */
export function blockedRetryMs(attempts: number, random: () => number = Math.random): number {
  return backoffDelay(attempts - 1, SAVEPOINT_RETRY_BACKOFF, random);
}

export function decide(input: DecideInput): Decision {
  const d = decideStep(input);
  // The generation accepted is persisted with the state, even while the spec it brings waits.
  if (d.state && !input.desired.deleted) acceptGeneration(d.state, stampOf(input.desired.spec));
  return d;
}

function decideStep(input: DecideInput): Decision {
  const events: LifecycleEvent[] = [];
  const { desired, observed } = input;
  if (!input.state) return initial(input, events);
  const state = structuredClone(input.state);
  const now = observed.now.toISOString();
  if (!desired.deleted && input.stateSpecHash === desired.specHash) state.spec = desired.spec;
  if (state.run && !state.run.everRunning && observed.job.state === "RUNNING") state.run.everRunning = true;
  if (state.op) preempt(state, input, events);
  if (!state.op) startOperation(state, input, events);
  if (!state.op) return { state, action: { type: "idle" }, events };
  return { state, action: continueOperation(state, state.op, input, events, now), events };
}

function initial(input: DecideInput, events: LifecycleEvent[]): Decision {
  const { desired, observed } = input;
  if (desired.deleted) {
    return {
      state: undefined,
      action: observed.podsPresent ? { type: "removeAll" } : { type: "idle" },
      events,
    };
  }
  const spec = desired.spec;
  const state: LifecycleState = {
    v: 1,
    spec,
    nextRunId: 1,
    target: spec.state,
    observedRestartNonce: spec.restartNonce,
    observedSavepointNonce: spec.savepointNonce,
    savepoints: [],
  };
  // The first run starts from the spec's initial savepoint, if it names one.
  if (spec.state === "RUNNING")
    deploy(state, desired.specHash, spec.job.initialSavepointPath, observed.now, events);
  else events.push({ reason: "Created", message: `created in state ${spec.state}; no pods started` });
  return { state, action: { type: "idle" }, events };
}

function deploy(
  state: LifecycleState,
  specHash: string,
  restoreFrom: string | undefined,
  now: Date,
  events: LifecycleEvent[],
): void {
  const id = state.nextRunId;
  state.run = { id, specHash, startedAt: now.toISOString(), everRunning: false };
  if (restoreFrom) state.run.restoreFrom = restoreFrom;
  state.nextRunId = id + 1;
  state.target = "RUNNING";
  events.push({
    reason: "Deploying",
    message: `starting run ${id}${restoreFrom ? ` from savepoint ${restoreFrom}` : " without state"}`,
  });
}

function newOp(
  state: LifecycleState,
  kind: OperationKind,
  step: OperationStep,
  input: DecideInput,
  extra: Partial<Operation> = {},
): void {
  const now = input.observed.now.toISOString();
  state.op = {
    kind,
    step,
    startedAt: now,
    stepAt: now,
    stop: kind !== "savepoint",
    probed: false,
    attempts: 0,
    ...(step === "savepoint" ? { triggerId: input.newTriggerId() } : {}),
    ...extra,
  };
}

/** No operation in flight: does the desired state call for one? */
function startOperation(state: LifecycleState, input: DecideInput, events: LifecycleEvent[]): void {
  const { desired, observed } = input;
  if (desired.deleted) {
    const savepoint = state.spec.upgradeMode === "SAVEPOINT";
    const step = !state.run || observed.forceDelete ? "removeAll" : savepoint ? "savepoint" : "cancel";
    newOp(state, "delete", step, input);
    events.push({ reason: "Deleting", message: deleteMessage(step) });
    return;
  }
  const spec = desired.spec;
  if (spec.state !== "RUNNING") {
    if (state.run) {
      const kind = spec.state === "SUSPENDED" ? "suspend" : "cancel";
      newOp(state, kind, kind === "suspend" ? "savepoint" : "cancel", input);
      events.push({
        reason: kind === "suspend" ? "Suspending" : "Cancelling",
        message: kind === "suspend" ? "stopping the job with a savepoint" : "cancelling the job",
      });
      return;
    }
    state.target = spec.state;
    acknowledgeNonces(state, spec, events);
    return;
  }
  if (!state.run) {
    const restore = restoreOnStart(state, spec);
    state.spec = spec;
    acknowledgeNonces(state, spec, events);
    deploy(state, desired.specHash, restore, observed.now, events);
    return;
  }
  const mode = spec.upgradeMode;
  const firstStep = mode === "SAVEPOINT" ? "savepoint" : "removePods";
  if (state.run.specHash !== desired.specHash) {
    newOp(state, "upgrade", firstStep, input);
    events.push({ reason: "Upgrading", message: `spec changed; upgrading (upgradeMode ${mode})` });
  } else if (spec.restartNonce !== state.observedRestartNonce) {
    newOp(state, "restart", firstStep, input, { nonce: spec.restartNonce });
    events.push({
      reason: "Restarting",
      message: `restartNonce ${spec.restartNonce}; restarting (upgradeMode ${mode})`,
    });
  } else if (spec.savepointNonce !== state.observedSavepointNonce) {
    newOp(state, "savepoint", "savepoint", input, { nonce: spec.savepointNonce });
    events.push({
      reason: "SavepointTriggering",
      message: `savepointNonce ${spec.savepointNonce}; taking a savepoint`,
    });
  }
}

function deleteMessage(step: OperationStep): string {
  if (step === "savepoint") return "deleting: stopping the job with a savepoint first";
  if (step === "cancel") return "deleting: cancelling the job first";
  return "deleting: removing every object";
}

/** Nonces that change while the job is not running are acknowledged: there is nothing to act on. */
function acknowledgeNonces(state: LifecycleState, spec: DeploymentSpec, events: LifecycleEvent[]): void {
  if (state.observedSavepointNonce !== spec.savepointNonce && spec.state !== "RUNNING")
    events.push({
      reason: "NonceAcknowledged",
      message: `savepointNonce ${spec.savepointNonce} acknowledged without a savepoint: the job is ${spec.state}`,
    });
  state.observedRestartNonce = spec.restartNonce;
  state.observedSavepointNonce = spec.savepointNonce;
}

/**
 * Resume from the latest savepoint after a suspend; after a cancel only when upgradeMode is SAVEPOINT.
 * A deployment that never ran (created SUSPENDED or CANCELLED) starts from its initial savepoint.
 */
function restoreOnStart(state: LifecycleState, spec: DeploymentSpec): string | undefined {
  if (state.nextRunId === 1) return spec.job.initialSavepointPath;
  const latest = state.savepoints.at(-1)?.location;
  if (state.target === "SUSPENDED") return latest;
  if (state.target === "CANCELLED" && spec.upgradeMode === "SAVEPOINT") return latest;
  return undefined;
}

/** A new desired state overrides an operation that has not yet passed its point of no return. */
function preempt(state: LifecycleState, input: DecideInput, events: LifecycleEvent[]): void {
  const op = state.op!;
  const { desired, observed } = input;
  const stopped = op.stop && (op.step !== "savepoint" || op.savepoint !== undefined);
  const pastStop = stopped || op.step === "cancel" || op.step === "awaitCancel" || op.step === "removePods";
  const replace = (why: string) => {
    events.push({ reason: "OperationReplaced", message: `${op.kind} abandoned at step ${op.step}: ${why}` });
    state.op = undefined;
  };
  if (desired.deleted) {
    if (op.kind === "delete") {
      if (observed.forceDelete && op.step !== "removeAll") {
        events.push({
          reason: "ForceDelete",
          message: `${ANNOTATION_HINT}: skipping the ${op.step} step`,
          warning: true,
        });
        setStep(op, "removeAll", input);
      }
      return;
    }
    if (pastStop && op.kind !== "savepoint") op.kind = "delete";
    else replace("the deployment is being deleted");
    return;
  }
  const spec = desired.spec;
  if (op.kind === "delete") {
    replace("the deployment was re-created");
    return;
  }
  if (spec.state === "CANCELLED" && op.kind !== "cancel") {
    if (pastStop && op.kind !== "savepoint") op.kind = "cancel";
    else replace("the desired state is now CANCELLED");
    return;
  }
  if (spec.state === "SUSPENDED" && (op.kind === "upgrade" || op.kind === "restart")) {
    if (op.stop) op.kind = "suspend";
    return;
  }
  if (spec.state === "RUNNING" && op.kind === "suspend" && op.blocked) {
    replace("the desired state is RUNNING again");
    return;
  }
  if (op.kind === "upgrade" || op.kind === "restart") {
    const stillNeeded =
      op.kind === "upgrade"
        ? desired.specHash !== state.run?.specHash
        : spec.restartNonce !== state.observedRestartNonce;
    if (!stillNeeded && !pastStop) {
      replace("no longer needed");
      return;
    }
    if (spec.upgradeMode === "STATELESS" && op.step === "savepoint") {
      events.push({
        reason: "UpgradeStateless",
        message: "upgradeMode is STATELESS now: redeploying without a savepoint",
      });
      op.stop = false;
      op.blocked = undefined;
      setStep(op, "removePods", input);
    }
    return;
  }
  if (op.kind === "savepoint" && op.step === "savepoint") {
    const other =
      spec.state !== "RUNNING" ||
      desired.specHash !== state.run?.specHash ||
      spec.restartNonce !== state.observedRestartNonce;
    if (other && op.blocked) replace("another change is waiting");
  }
}

const ANNOTATION_HINT = "meridian.dev/force-delete=true is set";

function setStep(op: Operation, step: OperationStep, input: DecideInput): void {
  op.step = step;
  op.stepAt = input.observed.now.toISOString();
  op.blocked = undefined;
  op.probed = false;
}

/** One step of a running operation: what to do now, updating `state`/`op` and recording `events`. */
type OperationTurn = (
  state: LifecycleState,
  op: Operation,
  input: DecideInput,
  events: LifecycleEvent[],
  now: string,
) => Action;

const continueOperation: OperationTurn = (state, op, input, events, now) => {
  const { observed } = input;
  const job = observed.job;
  switch (op.step) {
    case "savepoint": {
      if (op.blocked && Date.parse(op.blocked.retryAt) > observed.now.getTime())
        return {
          type: "wait",
          reason: op.blocked.reason,
          ms: Date.parse(op.blocked.retryAt) - observed.now.getTime(),
        };
      op.triggerId ??= input.newTriggerId();
      // A job never seen RUNNING since its run started has no state beyond its restore point: no
      // savepoint is needed (nor possible) to stop it, whatever it is doing now (starting, crash-looping).
      if (job.state !== "RUNNING" && op.stop && state.run && !state.run.everRunning && !op.jobId)
        return savepointImpossible(state, op, input, events, now);
      if (job.state === "RUNNING" && job.id) {
        op.jobId = job.id;
        return {
          type: "triggerSavepoint",
          jobId: job.id,
          triggerId: op.triggerId,
          stop: op.stop,
          directory: input.savepointDir,
        };
      }
      const jobId = job.id ?? op.jobId;
      if (jobId && !op.probed && job.state !== "UNREACHABLE" && job.state !== "NOT_DEPLOYED")
        return { type: "pollSavepoint", jobId, triggerId: op.triggerId, probe: true };
      if (TRANSIENT.has(job.state) && observed.podsPresent) {
        const waited = observed.now.getTime() - Date.parse(op.stepAt);
        if (waited > TRANSIENT_BLOCK_AFTER_MS && !op.blocked)
          op.blocked = {
            reason: "JobNotRunning",
            message: `waiting ${Math.round(waited / 1000)} s for the job to run so a savepoint can be taken (job is ${job.state})`,
            since: now,
            retryAt: now,
          };
        return { type: "wait", reason: `job is ${job.state}`, ms: 2000 };
      }
      return savepointImpossible(state, op, input, events, now);
    }
    case "awaitSavepoint":
      return {
        type: "pollSavepoint",
        jobId: op.jobId ?? job.id ?? "",
        triggerId: op.triggerId ?? "",
        probe: false,
      };
    case "cancel":
      if (CANCELLABLE.has(job.state) && job.id) return { type: "cancelJob", jobId: job.id };
      setStep(op, op.kind === "delete" ? "removeAll" : "removePods", input);
      return continueOperation(state, op, input, events, now);
    case "awaitCancel": {
      const waited = observed.now.getTime() - Date.parse(op.stepAt);
      if ((CANCELLABLE.has(job.state) || job.state === "CANCELLING") && waited < CANCEL_WAIT_MS)
        return { type: "wait", reason: `job is ${job.state}`, ms: 1000 };
      setStep(op, op.kind === "delete" ? "removeAll" : "removePods", input);
      return continueOperation(state, op, input, events, now);
    }
    case "removePods":
      if (observed.podsPresent) return { type: "removePods" };
      events.push({ reason: "PodsRemoved", message: "JobManager and TaskManager pods removed" });
      finish(state, op, input, events);
      return state.op ? continueOperation(state, state.op, input, events, now) : { type: "idle" };
    case "removeAll":
      return { type: "removeAll" };
  }
};

/** No savepoint can be taken. Reuse the run's restore point if the job never ran, else block. */
const savepointImpossible: OperationTurn = (state, op, input, events, now) => {
  const job = input.observed.job;
  if (!op.stop) {
    op.blocked ??= {
      reason: "SavepointImpossible",
      message: `cannot take a savepoint: the job is ${job.state}`,
      since: now,
      retryAt: new Date(input.observed.now.getTime() + 10_000).toISOString(),
    };
    return { type: "wait", reason: op.blocked.reason, ms: 10_000 };
  }
  if (state.run && !state.run.everRunning) {
    op.savepoint = state.run.restoreFrom;
    events.push({
      reason: "SavepointSkipped",
      message: `the job never ran since run ${state.run.id} started (${job.state}); its state is still ${state.run.restoreFrom ?? "empty"}`,
    });
    afterSavepoint(state, op, input);
    return continueOperation(state, op, input, events, now);
  }
  const wayOut =
    op.kind === "delete"
      ? "annotate the ConfigMap with meridian.dev/force-delete=true to delete without a savepoint"
      : op.kind === "suspend"
        ? "set state CANCELLED to stop without a savepoint, or fix the job"
        : "set upgradeMode STATELESS to redeploy without state, or fix the job";
  if (!op.blocked) {
    op.blocked = {
      reason: "SavepointImpossible",
      message: `${op.kind} needs a savepoint but the job is ${job.state}; ${wayOut}`,
      since: now,
      retryAt: new Date(input.observed.now.getTime() + 30_000).toISOString(),
    };
    events.push({ reason: "OperationBlocked", message: op.blocked.message, warning: true });
  }
  return { type: "wait", reason: op.blocked.reason, ms: 30_000 };
};

/** A savepoint operation is done: the nonce is observed; a SAVEPOINT-mode run now restores from it. */
export function finishSavepoint(state: LifecycleState, op: Operation, events: LifecycleEvent[]): void {
  state.op = undefined;
  state.observedSavepointNonce = op.nonce ?? state.observedSavepointNonce;
  if (state.run && op.savepoint && state.spec.upgradeMode === "SAVEPOINT")
    state.run.restoreFrom = op.savepoint;
  events.push({
    reason: "SavepointCompleted",
    message: `savepoint ${op.savepoint ?? "(none)"} for nonce ${op.nonce}`,
  });
}

function afterSavepoint(state: LifecycleState, op: Operation, input: DecideInput): void {
  if (!op.stop) {
    finishSavepoint(state, op, []);
    return;
  }
  setStep(op, op.kind === "delete" ? "removeAll" : "removePods", input);
}

function finish(state: LifecycleState, op: Operation, input: DecideInput, events: LifecycleEvent[]): void {
  state.op = undefined;
  const { desired, observed } = input;
  switch (op.kind) {
    case "savepoint":
      finishSavepoint(state, op, events);
      return;
    case "suspend":
    case "cancel":
      state.run = undefined;
      state.target = op.kind === "suspend" ? "SUSPENDED" : "CANCELLED";
      events.push({
        reason: op.kind === "suspend" ? "Suspended" : "Cancelled",
        message:
          op.kind === "suspend"
            ? `suspended; savepoint ${op.savepoint ?? "(none)"} kept`
            : "cancelled; pods removed",
      });
      return;
    case "upgrade":
    case "restart": {
      state.run = undefined;
      if (desired.deleted || desired.spec.state !== "RUNNING") {
        state.target = desired.deleted ? state.target : desired.spec.state;
        return;
      }
      const restore = op.stop ? op.savepoint : undefined;
      state.spec = desired.spec;
      state.observedRestartNonce = desired.spec.restartNonce;
      if (op.kind === "restart" && op.nonce !== undefined) state.observedRestartNonce = op.nonce;
      deploy(state, desired.specHash, restore, observed.now, events);
      return;
    }
    case "delete":
      return;
  }
}
