// The other half of the lifecycle state machine, pure: folds the outcome of an action (Flink's answer
// to a savepoint or cancel request, pods gone or not) into the state the reconciler persists next.
import { type BackoffPolicy, backoffDelay } from "@meridian/shared/backoff";
import type { SavepointInfo } from "@meridian/shared/protocol/index";
import {
  type Action,
  blockedRetryMs,
  blockLastState,
  finishSavepoint,
  type LifecycleEvent,
  type Outcome,
} from "./lifecycle.ts";
import {
  type LifecycleState,
  MAX_SAVEPOINTS,
  type Operation,
  type OperationKind,
} from "./lifecycle-state.ts";

/** Flink's answer while a RUNNING job's tasks are still deploying. */
const TASKS_STARTING = /not all required tasks are currently running|is not being executed at the moment/i;
const TASKS_STARTING_RETRY_MS = 2000;

/** Folds the outcome of `action` into the state. Pure; the caller persists the result. */
export function applyOutcome(input: {
  state: LifecycleState;
  action: Action;
  outcome: Outcome;
  now: Date;
  newTriggerId: () => string;
}): { state: LifecycleState | undefined; events: LifecycleEvent[] } {
  const { action, outcome, now } = input;
  const state = structuredClone(input.state);
  const events: LifecycleEvent[] = [];
  const op = state.op;
  const at = now.toISOString();
  const block = (reason: string, message: string) => {
    if (!op) return;
    // The job is RUNNING but its tasks are still being deployed: not a failure, try again shortly.
    const starting = TASKS_STARTING.test(message);
    if (!starting) op.attempts += 1;
    const delay = starting ? TASKS_STARTING_RETRY_MS : blockedRetryMs(op.attempts);
    op.triggerId = input.newTriggerId();
    op.step = "savepoint";
    op.stepAt = at;
    op.probed = false;
    op.blocked = {
      reason: starting ? "TasksStarting" : reason,
      message,
      since: op.blocked?.since ?? at,
      retryAt: new Date(now.getTime() + delay).toISOString(),
    };
    events.push({
      reason: starting ? "SavepointDeferred" : "SavepointFailed",
      message: `${op.kind}: ${message}; retrying in ${Math.round(delay / 1000)} s`,
      warning: !starting,
    });
  };
  switch (action.type) {
    case "triggerSavepoint":
      if (!op) break;
      if (outcome.type === "ok") {
        op.step = "awaitSavepoint";
        op.stepAt = at;
        op.jobId = action.jobId;
        op.blocked = undefined;
        events.push({
          reason: "SavepointTriggered",
          message: `${action.stop ? "stop-with-savepoint" : "savepoint"} triggered (trigger ${action.triggerId}) into ${action.directory}`,
        });
      } else if (outcome.type === "failed" || outcome.type === "notFound")
        block("SavepointFailed", outcome.type === "failed" ? outcome.message : "the job is gone");
      break;
    case "pollSavepoint":
      if (!op) break;
      if (outcome.type === "completed") {
        recordSavepoint(state, op, outcome.location, at);
        events.push({ reason: "SavepointTaken", message: `savepoint at ${outcome.location}` });
        if (!op.stop) finishSavepoint(state, op, events);
        else {
          op.step = op.kind === "delete" ? "removeAll" : "removePods";
          op.stepAt = at;
          op.blocked = undefined;
        }
      } else if (outcome.type === "failed") block("SavepointFailed", outcome.message);
      else if (outcome.type === "notFound") {
        if (action.probe) op.probed = true;
        else {
          op.triggerId = input.newTriggerId();
          op.step = "savepoint";
          op.stepAt = at;
          events.push({
            reason: "SavepointLost",
            message: "Flink no longer knows the savepoint trigger (JobManager restarted?); triggering again",
            warning: true,
          });
        }
      }
      break;
    case "cancelJob":
      if (!op) break;
      op.step = "awaitCancel";
      op.stepAt = at;
      events.push(
        outcome.type === "ok"
          ? { reason: "CancelRequested", message: `cancel requested for job ${action.jobId}` }
          : {
              reason: "CancelFailed",
              message: `cancel of job ${action.jobId} failed (${describe(outcome)}); removing the pods stops it`,
              warning: true,
            },
      );
      break;
    case "checkLastState":
      if (!op) break;
      if (outcome.type === "lastState" && outcome.available) {
        op.step = "removePods";
        op.stepAt = at;
        op.blocked = undefined;
        events.push({ reason: "LastStateAvailable", message: outcome.message });
      } else if (outcome.type === "lastState")
        blockLastState(op, { observed: { now } }, events, at, outcome.message);
      break;
    case "resetHa":
      if (op && outcome.type === "ok") {
        op.haReset = true;
        events.push({
          reason: "HaMetadataRemoved",
          message: action.keepJobId
            ? `HA metadata removed but the checkpoints of job ${action.keepJobId}, which the next run continues`
            : "HA metadata removed: the deployment's state no longer needs it",
        });
      }
      break;
    case "removePods":
      if (outcome.type === "gone" && outcome.gone)
        events.push({ reason: "PodsRemoved", message: "JobManager and TaskManager pods removed" });
      break;
    case "removeAll":
      if (outcome.type === "gone" && outcome.gone)
        return { state: undefined, events: [{ reason: "Deleted", message: "every object removed" }] };
      break;
    case "disposeSavepoint":
      applyDisposal(state, action.location, outcome, now, events);
      break;
    default:
      break;
  }
  return { state, events };
}

function describe(o: Outcome): string {
  if (o.type === "failed" || o.type === "unreachable") return o.message;
  return o.type;
}

const TRIGGER_OF: Record<OperationKind, SavepointInfo["trigger"]> = {
  savepoint: "nonce",
  suspend: "suspend",
  upgrade: "upgrade",
  restart: "restart",
  delete: "delete",
  cancel: "suspend",
  resume: "restart",
};

/** Retrying a failed disposal: from 1 min doubling to 1 h (it never blocks the job, only waits). */
const DISPOSAL_RETRY: BackoffPolicy = { baseMs: 60_000, capMs: 3_600_000, floorMs: 30_000 };

/**
 * A disposed savepoint (or one already gone) leaves the history; a failure is kept with a retry time,
 * and no disposal is tried before it.
 */
function applyDisposal(
  state: LifecycleState,
  location: string,
  outcome: Outcome,
  now: Date,
  events: LifecycleEvent[],
): void {
  if (outcome.type === "disposed") {
    state.savepoints = state.savepoints.filter((s) => s.location !== location);
    state.disposal = undefined;
    events.push({
      reason: "SavepointDisposed",
      message: outcome.alreadyGone
        ? `savepoint ${location} was already gone; removed from the history`
        : `savepoint ${location} disposed (retention)`,
    });
    return;
  }
  if (outcome.type === "inProgress") return;
  const attempts = state.disposal?.location === location ? state.disposal.attempts + 1 : 1;
  const delay = backoffDelay(attempts - 1, DISPOSAL_RETRY);
  state.disposal = { location, attempts, retryAt: new Date(now.getTime() + delay).toISOString() };
  events.push({
    reason: "SavepointDisposalFailed",
    message: `disposing savepoint ${location} failed (${describe(outcome)}); it stays in the history, retrying in ${Math.round(delay / 1000)} s`,
    warning: true,
  });
}

function recordSavepoint(state: LifecycleState, op: Operation, location: string, at: string): void {
  op.savepoint = location;
  const trigger = op.periodic ? "periodic" : TRIGGER_OF[op.kind];
  const info: SavepointInfo = { location, time: at, trigger };
  if (op.kind === "savepoint" && op.nonce !== undefined) info.nonce = op.nonce;
  state.savepoints = [...state.savepoints.filter((s) => s.location !== location), info].slice(
    -MAX_SAVEPOINTS,
  );
}
