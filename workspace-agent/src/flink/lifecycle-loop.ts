// The lifecycle step loop of one reconcile: decide (lifecycle.ts) on a fresh look at the
// JobManager, persist the decision before acting on it, carry out the action (actions.ts), persist
// its outcome (lifecycle-outcome.ts), and go on until the deployment is idle, has to wait, or is
// gone. At most MAX_STEPS steps per reconcile; a wait becomes the run's requeue.
import { randomBytes } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { F } from "@meridian/shared/log";
import { execute } from "./actions.ts";
import { writeConfigMap } from "./config-map.ts";
import { type Decision, type Desired, decide, type LifecycleEvent } from "./lifecycle.ts";
import { applyOutcome } from "./lifecycle-outcome.ts";
import { type LifecycleState, serializeState } from "./lifecycle-state.ts";
import { ANNOTATION_FORCE_DELETE, runsHa, savepointDir, specHash } from "./objects.ts";
import { contextOf, type DeploymentRun, jobManagerOf, podsOf, requeue } from "./reconcile-deps.ts";
import { lineageJobId } from "./state-config.ts";

const MAX_STEPS = 12;

export interface LifecycleResult {
  state: LifecycleState | undefined;
  cm: V1ConfigMap | undefined;
  /** Everything of the deployment is deleted, its ConfigMap included. */
  gone: boolean;
}

export async function runLifecycle(
  run: DeploymentRun,
  desired: Desired,
  initial: LifecycleState | undefined,
  initialCm: V1ConfigMap | undefined,
): Promise<LifecycleResult> {
  const { deps, name } = run;
  let state = initial;
  let cm = initialCm;
  const newTriggerId = deps.newTriggerId ?? (() => randomBytes(16).toString("hex"));
  // Decisions that act are taken on a fresh look at the JobManager, never on a stale poll.
  let fresh = false;
  for (let step = 0; step < MAX_STEPS; step++) {
    const jm = jobManagerOf(deps, name);
    deps.monitor.track(name, jm);
    let flink = jm ? deps.monitor.latest(name) : undefined;
    if (jm && !flink) {
      flink = await deps.monitor.observe(name);
      fresh = true;
    }
    const observed = {
      now: new Date(),
      podsPresent: podsOf(deps, name).length > 0,
      job: flink?.job ?? { state: "NOT_DEPLOYED" as const },
      forceDelete: cm?.metadata?.annotations?.[ANNOTATION_FORCE_DELETE] === "true",
      lastCheckpoint: deps.monitor.lastCheckpoint(name),
    };
    const ctxSpec = state?.spec ?? (desired.deleted ? undefined : desired.spec);
    const objCtx = ctxSpec ? contextOf(deps, ctxSpec) : undefined;
    const d: Decision = decide({
      desired,
      state,
      observed,
      stateSpecHash: state ? specHash(state.spec) : undefined,
      savepointDir: objCtx ? savepointDir(objCtx) : "",
      newTriggerId,
      newJobId: (runId) => lineageJobId(deps.namespace, name, runId),
      ha: objCtx ? runsHa(objCtx) : false,
      ...(deps.savepointSecondMs !== undefined ? { savepointSecondMs: deps.savepointSecondMs } : {}),
    });
    if (d.action.type !== "idle" && d.action.type !== "wait" && !fresh && jm) {
      await deps.monitor.observe(name);
      fresh = true;
      continue;
    }
    fresh = false;
    if (d.state && serializeState(d.state) !== (state ? serializeState(state) : "")) {
      cm = await writeConfigMap(run, d.state);
      stepChanged(run, state, d.state);
    }
    state = d.state;
    recordEvents(run, cm, d.events);
    if (d.action.type === "idle") break;
    if (d.action.type === "wait") {
      requeue(run, Math.max(200, Math.min(d.action.ms, 60_000)));
      break;
    }
    run.log.info({ action: d.action.type }, "lifecycle action");
    const outcome = await execute(d.action, {
      client: deps.client,
      namespace: deps.namespace,
      workspaceId: deps.workspaceId,
      deployment: name,
      rest: deps.monitor.client(name),
      pods: () => podsOf(deps, name),
    });
    run.writes++;
    if (!state) break; // removeAll of leftovers without state
    const r = applyOutcome({ state, action: d.action, outcome, now: new Date(), newTriggerId });
    recordEvents(run, cm, r.events);
    if (!r.state) return { state: undefined, cm: undefined, gone: true };
    if (serializeState(r.state) !== serializeState(state)) {
      cm = await writeConfigMap(run, r.state);
      stepChanged(run, state, r.state);
    }
    state = r.state;
    if (
      outcome.type === "unreachable" ||
      outcome.type === "inProgress" ||
      (outcome.type === "gone" && !outcome.gone)
    ) {
      requeue(run, outcome.type === "unreachable" ? 2000 : 1000);
      break;
    }
    if (jobManagerOf(deps, name)) {
      await deps.monitor.observe(name);
      fresh = true;
    }
  }
  return { state, cm, gone: false };
}

function stepChanged(run: DeploymentRun, before: LifecycleState | undefined, after: LifecycleState): void {
  const op = after.op;
  if (op && (before?.op?.step !== op.step || before?.op?.kind !== op.kind)) {
    run.log.info({ op: op.kind, step: op.step }, "lifecycle step recorded");
    run.deps.onLifecycleStep?.(op.kind, op.step);
  }
}

/** Logs the lifecycle's events and records them as Kubernetes Events on the ConfigMap. */
export function recordEvents(
  run: DeploymentRun,
  cm: V1ConfigMap | undefined,
  events: LifecycleEvent[],
): void {
  for (const e of events) {
    run.log[e.warning ? "warn" : "info"]({ [F.reason]: e.reason }, e.message);
    run.deps.recordEvent(cm, e.warning ? "Warning" : "Normal", e.reason, e.message);
  }
}
