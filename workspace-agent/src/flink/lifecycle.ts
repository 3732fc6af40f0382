// The lifecycle state machine of one Flink deployment, pure: (desired, persisted state, observed)
// -> (next state to persist, one action to carry out, events to record). The reconciler persists the
// state BEFORE it acts, carries out the action, feeds the outcome to `applyOutcome` (also pure),
// persists again, and loops until the action is idle or a wait. See docs/flink-deployments.md.
import { type BackoffPolicy, backoffDelay } from "@meridian/shared/backoff";
import { stampOf } from "@meridian/shared/controller/epoch";
import {
  type DeploymentSpec,
  isReactive,
  type JobState,
  taskManagerReplicas,
} from "@meridian/shared/protocol/index";
import {
  acceptGeneration,
  type LifecycleState,
  type Operation,
  type OperationKind,
  type OperationStep,
} from "./lifecycle-state.ts";
import { disposable, periodicDueAt, periodicIntervalMs, retentionOf } from "./savepoint-history.ts";

export type Desired = { deleted: false; spec: DeploymentSpec; specHash: string } | { deleted: true };

export interface Observed {
  now: Date;
  /** Any JobManager or TaskManager pod exists (terminating ones included). */
  podsPresent: boolean;
  job: { state: JobState; id?: string | undefined };
  /** `meridian.dev/force-delete=true` is on the ConfigMap. */
  forceDelete: boolean;
  /**
   * The newest completed checkpoint seen for the deployment's job (its location retained on the
   * storage: checkpoints are kept on cancellation), even after its JobManager went; absent when none was
   * seen since the workspace agent started.
   */
  lastCheckpoint?: { jobId: string; id: number; time: string; location: string } | undefined;
}

export interface DecideInput {
  desired: Desired;
  state: LifecycleState | undefined;
  observed: Observed;
  /** Hash of `state.spec` (objects.specHash), passed in to keep this module free of crypto. */
  stateSpecHash: string | undefined;
  savepointDir: string;
  newTriggerId: () => string;
  /** The fixed job id of a new state lineage started by run `runId` (state-config.ts lineageJobId). */
  newJobId?: (runId: number) => string;
  /** The deployment's (stored) spec runs Kubernetes HA: there is HA metadata to check and clean up. */
  ha?: boolean;
  /** How long one second of the spec's `savepoints` settings lasts: 1000, shorter only in tests. */
  savepointSecondMs?: number;
}

export type Action =
  | { type: "idle" }
  | { type: "wait"; reason: string; ms: number }
  | { type: "triggerSavepoint"; jobId: string; triggerId: string; stop: boolean; directory: string }
  | { type: "pollSavepoint"; jobId: string; triggerId: string; probe: boolean }
  | { type: "cancelJob"; jobId: string }
  | { type: "checkLastState"; jobId: string }
  | { type: "resetHa"; keepJobId?: string | undefined }
  | { type: "removePods" }
  | { type: "removeAll" }
  /** Dispose of a recorded savepoint the retention rule lets go (Flink's `/savepoint-disposal`). */
  | { type: "disposeSavepoint"; location: string };

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
  | { type: "lastState"; available: boolean; message: string }
  | { type: "gone"; gone: boolean }
  | { type: "disposed"; alreadyGone: boolean };

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
  if (!desired.deleted && input.stateSpecHash === desired.specHash) {
    if (state.run) rescaleEvent(state.spec, desired.spec, events);
    state.spec = desired.spec;
  }
  if (state.run && !state.run.everRunning && observed.job.state === "RUNNING") state.run.everRunning = true;
  if (state.op) preempt(state, input, events);
  if (!state.op) startOperation(state, input, events);
  if (!state.op) return { state, action: idleAction(state, input), events };
  return { state, action: continueOperation(state, state.op, input, events, now), events };
}

/**
 * Nothing to operate: dispose of a savepoint the retention rule lets go (only while the job runs, as
 * Flink's REST API disposes them), else wait for the next periodic savepoint, else idle.
 */
function idleAction(state: LifecycleState, input: DecideInput): Action {
  const { observed } = input;
  const now = observed.now.getTime();
  const running = state.run !== undefined && observed.job.state === "RUNNING";
  const retryAt = state.disposal ? Date.parse(state.disposal.retryAt) : 0;
  if (running && retryAt <= now) {
    const next = disposable(state, retentionOf(state.spec, input.savepointSecondMs), observed.now)[0];
    if (next) return { type: "disposeSavepoint", location: next.location };
  }
  const due = periodicDueAt(state, periodicIntervalMs(state.spec, input.savepointSecondMs));
  const later = [due, retryAt > now ? retryAt : undefined].filter((t) => t !== undefined);
  if (state.run && later.length > 0)
    return { type: "wait", reason: "next periodic savepoint", ms: Math.max(1000, Math.min(...later) - now) };
  return { type: "idle" };
}

/**
 * A change of the TaskManager count alone keeps the run (its hash leaves the count out, and in
 * reactive mode the parallelism too): said once, when the stored spec takes it.
 */
function rescaleEvent(from: DeploymentSpec, to: DeploymentSpec, events: LifecycleEvent[]): void {
  const [a, b] = [taskManagerReplicas(from), taskManagerReplicas(to)];
  if (a === b) return;
  events.push({
    reason: "Rescaling",
    message: isReactive(to)
      ? `TaskManagers ${a} -> ${b} in place; reactive mode rescales the job to the slots they offer`
      : `TaskManagers ${a} -> ${b} in place; the job keeps parallelism ${to.parallelism} (scaling.mode reactive would follow the slots)`,
  });
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
    deploy(state, input, desired.specHash, spec.job.initialSavepointPath, observed.now, events);
  else events.push({ reason: "Created", message: `created in state ${spec.state}; no pods started` });
  return { state, action: { type: "idle" }, events };
}

/**
 * Starts run `nextRunId`. `lastStateJobId`: the run continues that job's HA metadata (its latest
 * checkpoint, LAST_STATE); otherwise it starts a new state lineage with a new job id.
 */
function deploy(
  state: LifecycleState,
  input: DecideInput,
  specHash: string,
  restoreFrom: string | undefined,
  now: Date,
  events: LifecycleEvent[],
  lastStateJobId?: string,
): void {
  const id = state.nextRunId;
  state.run = { id, specHash, startedAt: now.toISOString(), everRunning: false };
  if (restoreFrom) {
    state.run.restoreFrom = restoreFrom;
    state.run.startedFrom = restoreFrom;
  }
  const jobId = lastStateJobId ?? input.newJobId?.(id);
  if (jobId) state.run.jobId = jobId;
  state.nextRunId = id + 1;
  state.target = "RUNNING";
  state.haJobId = undefined;
  const from = lastStateJobId
    ? ` from the latest checkpoint of job ${lastStateJobId} (HA metadata)`
    : restoreFrom
      ? ` from savepoint ${restoreFrom}`
      : " without state";
  events.push({ reason: "Deploying", message: `starting run ${id}${from}` });
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
    // LAST_STATE keeps state like SAVEPOINT: a deployment deleted for good leaves a savepoint behind.
    const savepoint = state.spec.upgradeMode !== "STATELESS";
    const step = !state.run || observed.forceDelete ? "removeAll" : savepoint ? "savepoint" : "cancel";
    newOp(state, "delete", step, input);
    events.push({ reason: "Deleting", message: deleteMessage(step) });
    return;
  }
  const spec = desired.spec;
  if (spec.state !== "RUNNING") {
    if (state.run) {
      const kind = spec.state === "SUSPENDED" ? "suspend" : "cancel";
      const lastState = kind === "suspend" && spec.upgradeMode === "LAST_STATE";
      const step = kind === "cancel" ? "cancel" : lastState ? "checkLastState" : "savepoint";
      newOp(state, kind, step, input, lastState ? lastStateOf(state) : {});
      events.push({
        reason: kind === "suspend" ? "Suspending" : "Cancelling",
        message:
          kind === "cancel"
            ? "cancelling the job"
            : lastState
              ? "removing the pods, keeping the HA metadata (upgradeMode LAST_STATE)"
              : "stopping the job with a savepoint",
      });
      return;
    }
    state.target = spec.state;
    acknowledgeNonces(state, spec, events);
    return;
  }
  if (!state.run) {
    // LAST_STATE after a run: from the HA metadata (checked first), never silently without state.
    if (spec.upgradeMode === "LAST_STATE" && state.nextRunId > 1) {
      newOp(state, "resume", "checkLastState", input, {
        ...(state.haJobId ? { lastStateJobId: state.haJobId } : {}),
      });
      events.push({
        reason: "Resuming",
        message: "resuming from the latest checkpoint (upgradeMode LAST_STATE)",
      });
      return;
    }
    // HA metadata a LAST_STATE suspend kept, and a start that does not continue it: it goes first,
    // or the new JobManager would also recover the old job's execution plan.
    if (state.haJobId && input.ha) {
      newOp(state, "resume", "removePods", input);
      return;
    }
    const restore = restoreOnStart(state, spec);
    state.spec = spec;
    acknowledgeNonces(state, spec, events);
    deploy(state, input, desired.specHash, restore, observed.now, events);
    return;
  }
  const mode = spec.upgradeMode;
  const firstStep =
    mode === "SAVEPOINT" ? "savepoint" : mode === "LAST_STATE" ? "checkLastState" : "removePods";
  const extra = mode === "LAST_STATE" ? lastStateOf(state) : {};
  if (state.run.specHash !== desired.specHash) {
    newOp(state, "upgrade", firstStep, input, extra);
    events.push({ reason: "Upgrading", message: `spec changed; upgrading (upgradeMode ${mode})` });
  } else if (spec.restartNonce !== state.observedRestartNonce) {
    newOp(state, "restart", firstStep, input, { ...extra, nonce: spec.restartNonce });
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
  } else if (periodicSavepointDue(state, input)) {
    newOp(state, "savepoint", "savepoint", input, { periodic: true });
    events.push({
      reason: "SavepointTriggering",
      message: `periodic savepoint (every ${spec.savepoints?.intervalSeconds} s)`,
    });
  }
}

/** The job has run and runs now, and the spec's interval has passed since the newest savepoint. */
function periodicSavepointDue(state: LifecycleState, input: DecideInput): boolean {
  const { observed } = input;
  if (!state.run?.everRunning || observed.job.state !== "RUNNING") return false;
  const due = periodicDueAt(state, periodicIntervalMs(state.spec, input.savepointSecondMs));
  return due !== undefined && due <= observed.now.getTime();
}

/** What a LAST_STATE operation on the current run continues: its job's HA metadata. */
function lastStateOf(state: LifecycleState): Partial<Operation> {
  const run = state.run;
  return {
    ...(run?.jobId ? { lastStateJobId: run.jobId } : {}),
    ...(run?.restoreFrom ? { fallbackRestore: run.restoreFrom } : {}),
  };
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
  const beforeStop = op.step === "savepoint" || op.step === "checkLastState";
  const stopped = op.stop && (!beforeStop || op.savepoint !== undefined);
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
  if (op.kind === "resume") {
    // Before the check a resume follows the spec; once checked it continues the job it found.
    if (spec.state !== "RUNNING" || (op.step === "checkLastState" && spec.upgradeMode !== "LAST_STATE"))
      replace(`the desired state is ${spec.state} with upgradeMode ${spec.upgradeMode} now`);
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
    if (op.step === "checkLastState" && spec.upgradeMode !== "LAST_STATE") {
      events.push({
        reason: "UpgradeModeChanged",
        message: `upgradeMode is ${spec.upgradeMode} now: ${spec.upgradeMode === "SAVEPOINT" ? "taking a savepoint instead" : "redeploying without state"}`,
      });
      op.lastStateJobId = undefined;
      op.fallbackRestore = undefined;
      if (spec.upgradeMode === "SAVEPOINT") {
        setStep(op, "savepoint", input);
        op.triggerId = input.newTriggerId();
      } else setStep(op, "removePods", input);
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
        // A delete does not wait for ever on a job that keeps restarting: its newest state is kept.
        if (
          waited > TRANSIENT_BLOCK_AFTER_MS &&
          op.kind === "delete" &&
          keepRetainedState(state, op, input, events)
        )
          return continueOperation(state, op, input, events, now);
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
    case "checkLastState":
      return checkLastState(state, op, input, events, now);
    case "removePods":
      if (observed.podsPresent) return { type: "removePods" };
      // The pods are gone: the HA metadata the state no longer needs goes too (all of it, or all but
      // the job a LAST_STATE run continues); a LAST_STATE suspend keeps it for the resume.
      if (input.ha && !op.haReset && !(op.kind === "suspend" && op.lastStateJobId))
        return { type: "resetHa", keepJobId: op.lastStateJobId };
      if (op.kind !== "resume")
        events.push({ reason: "PodsRemoved", message: "JobManager and TaskManager pods removed" });
      finish(state, op, input, events);
      return state.op ? continueOperation(state, state.op, input, events, now) : { type: "idle" };
    case "removeAll":
      return { type: "removeAll" };
  }
};

/** How long a LAST_STATE operation without a usable checkpoint waits before it looks again. */
export const LAST_STATE_RETRY_MS = 30_000;

/**
 * LAST_STATE: the job's HA metadata must hold a completed checkpoint before anything is stopped or
 * started; without HA, without a job id to continue or without a checkpoint the operation is blocked
 * (LastStateUnavailable), the running job untouched, never started without state.
 */
const checkLastState: OperationTurn = (state, op, input, events, now) => {
  const at = input.observed.now.getTime();
  if (op.blocked && Date.parse(op.blocked.retryAt) > at)
    return { type: "wait", reason: op.blocked.reason, ms: Date.parse(op.blocked.retryAt) - at };
  const why = !input.ha
    ? "Kubernetes HA is off for this deployment (its workspace has no storage, or its flinkConfiguration turns high-availability off), so there is no HA metadata to resume from"
    : !op.lastStateJobId
      ? op.kind === "resume"
        ? `no HA metadata was kept when the deployment became ${state.target} (it was stopped with a savepoint or cancelled)`
        : `run ${state.run?.id} has no fixed job id (it started before Meridian kept one), so its HA metadata cannot be found`
      : undefined;
  if (why) return blockLastState(op, input, events, now, why);
  return { type: "checkLastState", jobId: op.lastStateJobId! };
};

/** Blocks a LAST_STATE operation with the reason, retried after LAST_STATE_RETRY_MS. */
export function blockLastState(
  op: Operation,
  input: { observed: { now: Date } },
  events: LifecycleEvent[],
  now: string,
  why: string,
): Action {
  const wayOut =
    op.kind === "resume"
      ? "set upgradeMode SAVEPOINT to start from the latest savepoint, or STATELESS to start without state"
      : op.kind === "suspend"
        ? "set upgradeMode SAVEPOINT to suspend with a savepoint, or state CANCELLED"
        : "set upgradeMode SAVEPOINT to go through a savepoint, or STATELESS to redeploy without state";
  const message = `${op.kind} with upgradeMode LAST_STATE needs the latest checkpoint from the HA metadata: ${why}; ${wayOut}`;
  const retryAt = new Date(input.observed.now.getTime() + LAST_STATE_RETRY_MS).toISOString();
  if (op.blocked?.message !== message)
    events.push({ reason: "LastStateUnavailable", message, warning: true });
  op.blocked = { reason: "LastStateUnavailable", message, since: op.blocked?.since ?? now, retryAt };
  return { type: "wait", reason: "LastStateUnavailable", ms: LAST_STATE_RETRY_MS };
}

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
  if (op.kind === "delete" && keepRetainedState(state, op, input, events))
    return continueOperation(state, op, input, events, now);
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

/**
 * A delete whose job can no longer take a savepoint (failed, gone, restarting for longer than
 * TRANSIENT_BLOCK_AFTER_MS) keeps the newest restorable state there is, when the workspace agent saw a
 * completed checkpoint of the run's own job (since the run started): that checkpoint (retained on the storage, decision 55), or
 * the latest savepoint if it is newer. Its location becomes the operation's final state (reported
 * upward, restorable by a later deployment through `job.initialSavepointPath`) and the delete goes on.
 * Without such a checkpoint it returns false and the delete stays blocked: a savepoint alone may be
 * older than what the job had reached, and nothing newer is known.
 */
function keepRetainedState(
  state: LifecycleState,
  op: Operation,
  input: DecideInput,
  events: LifecycleEvent[],
): boolean {
  const cp = input.observed.lastCheckpoint;
  const run = state.run;
  if (!cp || !run) return false;
  // The run's own job: completed after the run started, and — with HA, where the job id is fixed
  // (`--job-id`) — of that id; without HA Flink picks the id, and a restarted JobManager a new one.
  if (Date.parse(cp.time) < Date.parse(run.startedAt)) return false;
  if (input.ha && cp.jobId !== run.jobId) return false;
  const savepoint = state.savepoints.at(-1);
  const savepointNewer = savepoint !== undefined && Date.parse(savepoint.time) > Date.parse(cp.time);
  op.savepoint = savepointNewer ? savepoint.location : cp.location;
  const kept = savepointNewer
    ? `savepoint ${savepoint.location} (${savepoint.time}), newer than its latest checkpoint ${cp.id}`
    : `its latest completed checkpoint ${cp.id} (${cp.time}) at ${cp.location}, retained on the storage`;
  events.push({
    reason: "FinalStateKept",
    message: `no savepoint can be taken (the job is ${input.observed.job.state}); the deployment's final state is ${kept}`,
    warning: true,
  });
  op.blocked = undefined;
  afterSavepoint(state, op, input);
  return true;
}

/** A savepoint operation is done: the nonce is observed; a SAVEPOINT-mode run now restores from it. */
export function finishSavepoint(state: LifecycleState, op: Operation, events: LifecycleEvent[]): void {
  state.op = undefined;
  state.observedSavepointNonce = op.nonce ?? state.observedSavepointNonce;
  if (state.run && op.savepoint && state.spec.upgradeMode !== "STATELESS")
    state.run.restoreFrom = op.savepoint;
  events.push({
    reason: "SavepointCompleted",
    message: `savepoint ${op.savepoint ?? "(none)"} ${op.periodic ? "(periodic)" : `for nonce ${op.nonce}`}`,
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
    case "cancel": {
      state.run = undefined;
      state.target = op.kind === "suspend" ? "SUSPENDED" : "CANCELLED";
      const keptHa = op.kind === "suspend" && !op.savepoint ? op.lastStateJobId : undefined;
      if (keptHa) state.haJobId = keptHa;
      else state.haJobId = undefined;
      events.push({
        reason: op.kind === "suspend" ? "Suspended" : "Cancelled",
        message:
          op.kind === "cancel"
            ? "cancelled; pods removed"
            : keptHa
              ? `suspended; the HA metadata of job ${keptHa} (its latest checkpoint) kept`
              : `suspended; savepoint ${op.savepoint ?? "(none)"} kept`,
      });
      return;
    }
    case "resume": {
      if (desired.deleted || desired.spec.state !== "RUNNING") return;
      const restore = op.lastStateJobId ? op.fallbackRestore : restoreOnStart(state, desired.spec);
      state.spec = desired.spec;
      acknowledgeNonces(state, desired.spec, events);
      deploy(state, input, desired.specHash, restore, observed.now, events, op.lastStateJobId);
      return;
    }
    case "upgrade":
    case "restart": {
      state.run = undefined;
      if (desired.deleted || desired.spec.state !== "RUNNING") {
        state.target = desired.deleted ? state.target : desired.spec.state;
        return;
      }
      const lastState = op.lastStateJobId;
      const restore = lastState ? op.fallbackRestore : op.stop ? op.savepoint : undefined;
      state.spec = desired.spec;
      state.observedRestartNonce = desired.spec.restartNonce;
      if (op.kind === "restart" && op.nonce !== undefined) state.observedRestartNonce = op.nonce;
      deploy(state, input, desired.specHash, restore, observed.now, events, lastState);
      return;
    }
    case "delete":
      return;
  }
}
