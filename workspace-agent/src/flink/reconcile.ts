// One reconcile of one Flink deployment, in the shared shape `(name, ctx) → Result`
// (shared/src/controller/result.ts), read like controller-runtime's: get (the ConfigMap's persisted
// lifecycle state, the desired entry), decide (deleted, orphaned, refused by the local policy, or a
// spec to run), apply (the lifecycle step loop, then the objects and pods the state says), and
// status. Everything between runs lives in the deployment's record (deployment-record.ts); when to
// run again is the Result's requeueAfterMs. The shared Controller runs it (deployment-controller.ts).
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { Reconcile } from "@meridian/shared/controller/result";
import { deleteObject } from "@meridian/shared/kube/apply";
import { COMPONENT_JOBMANAGER } from "@meridian/shared/kube/labels";
import { F } from "@meridian/shared/log";
import type { DeploymentStatus } from "@meridian/shared/protocol/index";
import { configMapOf } from "./config-map.ts";
import type { DeploymentRecords } from "./deployment-record.ts";
import { ensureObjects } from "./ensure-objects.ts";
import type { Desired } from "./lifecycle.ts";
import { runLifecycle } from "./lifecycle-loop.ts";
import type { LifecycleState } from "./lifecycle-state.ts";
import { NameTakenError } from "./name-guard.ts";
import { ANNOTATION_STATE, specHash } from "./objects.ts";
import { clearOrphanMark, orphanExpired, readOrphanMark } from "./orphans.ts";
import { withWorkspacePodTemplate } from "./pod-template.ts";
import { componentOf, isTerminating } from "./pods.ts";
import {
  createdThisRun,
  type DeploymentDeps,
  type DeploymentRun,
  jobManagerOf,
  podsOf,
} from "./reconcile-deps.ts";
import { refuseSpec, type SpecRefusal } from "./spec-policy.ts";
import { buildStatus } from "./status.ts";
import { readStoredState } from "./stored-state.ts";

/** Outcomes of a run (`applied` and `unchanged` by its writes); the quiet ones log no line per run. */
export const QUIET_OUTCOMES = ["unchanged", "refused", "unreadable"] as const;

export function deploymentReconciler(deps: DeploymentDeps, records: DeploymentRecords): Reconcile {
  return async (name, ctx) => {
    const run: DeploymentRun = {
      name,
      deps,
      record: records.get(name),
      log: ctx.logger,
      signal: ctx.signal,
      writes: 0,
      requeueAfterMs: undefined,
      createdHere: [],
    };
    const outcome = await reconcileDeployment(run, records);
    return { outcome, writes: run.writes, requeueAfterMs: run.requeueAfterMs };
  };
}

async function reconcileDeployment(run: DeploymentRun, records: DeploymentRecords): Promise<string> {
  const { deps, name, record, log } = run;
  // Get: what the cluster holds (persisted state, orphan mark) and what is desired.
  let cm = configMapOf(run);
  const parsed = readStoredState(cm, podsOf(deps, name));
  if (!parsed.ok) {
    // Reported once per distinct reason (every pod event re-enqueues this deployment).
    if (record.unreadable !== parsed.error) {
      record.unreadable = parsed.error;
      log.error({ [F.reason]: parsed.error }, "unreadable lifecycle state; not acting on this deployment");
      deps.recordEvent(cm, "Warning", "StateUnreadable", parsed.error);
    }
    publish(run, undefined, undefined, { field: ANNOTATION_STATE, message: parsed.error });
    return "unreadable";
  }
  record.unreadable = undefined;
  readOrphanMark(run, cm);
  let state = parsed.state;
  const entry = deps.desired.get(name);

  // Decide.
  let refused: SpecRefusal | undefined;
  let desired: Desired | undefined;
  if (state && (entry.kind === "spec" || entry.kind === "held")) cm = await clearOrphanMark(run, state, cm);
  if (entry.kind === "deleted" || state?.op?.kind === "delete") desired = { deleted: true };
  else if (entry.kind === "orphaned" && state) {
    const orphan = await orphanExpired(run, state, cm);
    cm = orphan.cm;
    if (orphan.expired) desired = { deleted: true };
  } else if (entry.kind === "spec") {
    refused = refuseSpec(entry.spec, deps);
    // What runs is the spec with the workspace's default pod template under its own.
    const spec = withWorkspacePodTemplate(entry.spec, deps.workspacePodTemplate);
    if (!refused) desired = { deleted: false, spec, specHash: specHash(spec) };
    else refusedOnce(run, cm, refused);
  }
  if (!refused) record.refusal = undefined;
  // Never adopt: a new deployment's objects are created create-only (name-guard.ts); one refused
  // for a name someone else holds is looked at again read-only until the name is free.
  if (desired && !desired.deleted && !state && !cm && record.nameTaken) {
    refused = await deps.names.checkNew(desired.spec, log);
    if (refused) desired = undefined;
    else record.nameTaken = undefined;
  }

  // Apply.
  try {
    if (desired) {
      const r = await runLifecycle(run, desired, state, cm);
      state = r.state;
      cm = r.cm;
      if (r.gone) {
        deps.desired.forget(name);
        deps.monitor.forget(name);
        deps.podBackoff.forgetDeployment(name);
        run.record = records.reset(name);
        publish(run, desired, undefined, undefined);
        return "deleted";
      }
    }
    if (state && cm?.metadata?.uid) {
      try {
        await ensureObjects(run, state, cm);
      } catch (err) {
        // A pod the workspace's quota has no room for: status says so while the controller retries.
        if (run.record.quotaRefusal) publish(run, desired, state, refused, entry.kind === "orphaned");
        throw err;
      }
    }
  } catch (err) {
    if (!(err instanceof NameTakenError) || (!createdThisRun(run) && state)) throw err;
    // A new deployment, a name of which is someone else's: what this run created goes again.
    await removeCreated(run);
    run.record = records.reset(name);
    run.record.nameTaken = err.message;
    publish(run, undefined, undefined, err.refusal);
    return "refused";
  }
  // Orphaned or not yet confirmed by a snapshot: still watched and reported.
  deps.monitor.track(name, jobManagerOf(deps, name));

  // Status.
  const status = publish(run, desired, state, refused, entry.kind === "orphaned");
  if (!status && !cm && podsOf(deps, name).length === 0) records.drop(name);
  if (run.writes > 0) return "applied";
  return refused ? "refused" : "unchanged";
}

/** Deletes what the run created (pods and Service first, the owning ConfigMap last), by uid. */
async function removeCreated(run: DeploymentRun): Promise<void> {
  const { deps } = run;
  for (const o of [...run.createdHere].reverse()) {
    await deleteObject(deps.client, o.type, deps.namespace, o.name, {
      ...(o.uid ? { uid: o.uid } : {}),
      gracePeriodSeconds: o.type.kind === "Pod" ? 0 : undefined,
      signal: run.signal,
    });
    run.writes++;
  }
}

/**
 * A spec the local policy refuses: nothing is applied for it (a running earlier spec keeps
 * running). Logged and evented once per distinct reason, not on every reconcile.
 */
function refusedOnce(run: DeploymentRun, cm: V1ConfigMap | undefined, refused: SpecRefusal): void {
  const reason = `${refused.field}: ${refused.message}`;
  if (run.record.refusal === reason) return;
  run.record.refusal = reason;
  run.log.warn({ [F.reason]: reason }, "spec refused by the local policy; nothing applied for it");
  run.deps.recordEvent(cm, "Warning", "SpecRefused", reason);
}

/** Builds and hands on the deployment's status; undefined (and withdrawn) when it is not ours to report. */
function publish(
  run: DeploymentRun,
  desired: Desired | undefined,
  state: LifecycleState | undefined,
  refused: SpecRefusal | undefined,
  orphaned = false,
): DeploymentStatus | undefined {
  const { deps, name, record } = run;
  const pods = podsOf(deps, name).filter((p) => !isTerminating(p));
  const jm = pods.find((p) => componentOf(p) === COMPONENT_JOBMANAGER);
  const entry = deps.desired.get(name);
  const spec =
    entry.kind === "spec" ? withWorkspacePodTemplate(entry.spec, deps.workspacePodTemplate) : undefined;
  const rejection = deps.desired.rejection(name);
  if (!state && !spec && !rejection && desired?.deleted !== true && entry.kind !== "deleted") {
    // Nothing desired and nothing exists: not ours to report.
    record.status = undefined;
    deps.onStatus(name, undefined);
    return undefined;
  }
  const status = buildStatus({
    name,
    spec,
    specHash: spec ? specHash(spec) : undefined,
    deleted: desired?.deleted === true || entry.kind === "deleted",
    orphaned,
    refused,
    rejection,
    state,
    jobManager: jm,
    taskManagers: pods.filter((p) => p !== jm),
    flink: jm ? deps.monitor.latest(name) : undefined,
    podFailures: deps.podBackoff.failuresOf(name),
    quotaRefusal: record.quotaRefusal,
    previous: record.status?.conditions,
    now: new Date(),
  });
  record.status = status;
  deps.onStatus(name, status);
  return status;
}
