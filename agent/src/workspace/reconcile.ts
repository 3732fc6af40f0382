// One workspace's reconcile in the shared shape (shared/src/controller/result.ts): what is desired
// for the key decides the step — a delete (lifecycle.ts), a spec (apply.ts), or an orphan candidate
// (the one orphan rule, lifecycle.ts) — and the step writes what it found into the workspace's
// record, which status is built from. When to look again (the credential's refresh time or its
// retry, an orphan's deadline) is the Result's requeueAfterMs; a failure throws, and the shared
// Controller backs off (workspaces.ts records the error through its run observer).
import type { Reconcile, ReconcileContext, Result } from "@meridian/shared/controller/result";
import { F } from "@meridian/shared/log";
import type { WorkspaceSpec } from "@meridian/shared/protocol/index";
import type { DesiredState } from "../desired.ts";
import type { AgentMetrics } from "../metrics.ts";
import { type ApplyDeps, applyWorkspace, type CredentialResult, ensureDrainBinding } from "./apply.ts";
import { credentialRetryDelay } from "./credentials.ts";
import { deletionStarted, drainWorkspace } from "./drain.ts";
import { deleteNamespace, type LifecycleDeps, markOrphan } from "./lifecycle.ts";
import { noticeConflict, noticeRefusal } from "./notices.ts";
import type { WorkspaceRecord, WorkspaceRecords } from "./record.ts";

export interface WorkspaceReconcileDeps {
  apply: ApplyDeps;
  lifecycle: LifecycleDeps;
  desired: DesiredState;
  records: WorkspaceRecords;
  metrics: AgentMetrics;
}

/** How often an orphan past its grace period looks again while the latest snapshot is ambiguous. */
export const AMBIGUOUS_RECHECK_MS = 60_000;

/** How often a workspace whose Flink deployments are still draining looks at them again. */
export const DRAIN_RECHECK_MS = 2_000;

/**
 * Outcomes: `unchanged`, `applied`, `refused` (local policy), `conflict` (an object in the way is
 * not Meridian's), `orphaned`, `draining` (its Flink deployments are being deleted first), `deleting`,
 * `deleted`, and `ignored` (nothing to do for the key).
 */
export function workspaceReconciler(d: WorkspaceReconcileDeps): Reconcile {
  return async (id, ctx) => {
    if (d.desired.isDeleting(id)) return deleteStep(d, id, ctx);
    const spec = d.desired.get(id);
    if (spec) return applyStep(d, spec, ctx);
    if (d.records.get(id)?.orphanCandidate) return orphanStep(d, id, ctx);
    return { outcome: "ignored", writes: 0 };
  };
}

async function applyStep(
  d: WorkspaceReconcileDeps,
  spec: WorkspaceSpec,
  ctx: ReconcileContext,
): Promise<Result> {
  const r = d.records.ensure(spec.id);
  r.orphanCandidate = false;
  r.orphan = undefined;
  // A workspace created again after a deletion: what that deletion's drain found is not its state.
  r.drain = undefined;
  const res = await applyWorkspace(d.apply, spec, r.appliedGeneration, ctx.signal);
  r.observedGeneration = spec.generation;
  r.error = undefined;
  r.conflicts = res.outcome === "conflict" ? res.conflicts.map((c) => c.message) : undefined;
  if (!r.conflicts) r.loggedConflict = undefined;
  const notices = { ...d.apply, namespacePrefix: d.lifecycle.namespacePrefix };
  if (res.outcome === "refused") {
    r.violations = res.violations.map((v) => v.message);
    noticeRefusal(notices, spec.id, spec.generation, r, ctx.logger);
    return { outcome: res.outcome, writes: 0 };
  }
  r.violations = undefined;
  r.loggedViolation = undefined;
  if (res.outcome === "conflict") {
    r.aligned = false;
    noticeConflict(notices, spec.id, r, ctx.logger);
    return { outcome: res.outcome, writes: 0 };
  }
  r.appliedGeneration = spec.generation;
  r.aligned = true;
  const requeueAfterMs = afterCredential(d, r, res.credential, ctx);
  return { outcome: res.outcome, writes: res.writes, requeueAfterMs };
}

/**
 * When to look at the credential again: at its refresh time, or after the credential's own
 * back-off when none could be minted. A failed mint is not a failed reconcile (every other object
 * was applied; status says CredentialUnavailable), so it keeps its own attempt count and delays
 * (credentialRetryDelay: 1 s doubling to 60 s) rather than the controller's.
 */
function afterCredential(
  d: WorkspaceReconcileDeps,
  r: WorkspaceRecord,
  c: CredentialResult,
  ctx: ReconcileContext,
): number {
  if (c.ok) {
    r.credentialError = undefined;
    r.credentialFailures = 0;
    return c.refreshAtMs - d.apply.now();
  }
  r.credentialError = c.error;
  d.metrics.reconcileErrors.inc({ reason: "CredentialUnavailable" });
  const delayMs = credentialRetryDelay(r.credentialFailures++);
  ctx.logger.warn({ [F.reason]: c.error, [F.delayMs]: delayMs }, "no workspace credential; retrying");
  return delayMs;
}

async function deleteStep(d: WorkspaceReconcileDeps, id: string, ctx: ReconcileContext): Promise<Result> {
  const rec = d.records.ensure(id);
  rec.drain ??= { pending: [], finalState: {}, forced: false };
  const bound = await ensureDrainBinding(d.apply, id, ctx.signal);
  const drain = await drainWorkspace(d.lifecycle, id, rec.drain, ctx.signal);
  drain.writes += bound;
  if (drain.state === "draining") {
    const blocked = rec.drain.pending.filter((p) => p.blocked).map((p) => p.name);
    if (blocked.length)
      ctx.logger.warn({ [F.reason]: blocked.join(", ") }, "workspace deletion blocked by Flink deployments");
    return { outcome: "draining", writes: drain.writes, requeueAfterMs: DRAIN_RECHECK_MS };
  }
  const why = rec.drain.forced
    ? "the control plane deleted the workspace (forced: meridian.dev/force-delete=true on the namespace)"
    : "the control plane deleted the workspace; its Flink deployments are gone";
  const step = await deleteNamespace(d.lifecycle, id, why, ctx.signal);
  if (step.state === "deleting") return { outcome: "deleting", writes: drain.writes + step.writes };
  if (step.leftAlone)
    ctx.logger.warn(
      { [F.reason]: step.leftAlone },
      "workspace deleted; its namespace is not Meridian's and was left alone",
    );
  d.desired.finishDeleting(id);
  const r = rec;
  Object.assign(r, { orphanCandidate: false, orphan: undefined, aligned: false, error: undefined });
  Object.assign(r, { conflicts: undefined, loggedConflict: undefined });
  r.deletedReportsLeft = 2;
  return { outcome: "deleted", writes: 0 };
}

async function orphanStep(d: WorkspaceReconcileDeps, id: string, ctx: ReconcileContext): Promise<Result> {
  if (deletionStarted(d.lifecycle, id)) {
    ctx.logger.warn(
      "the workspace's deletion had begun before (its credential Secret is marked); resuming it",
    );
    d.desired.markDeleting(id);
    d.records.ensure(id).orphanCandidate = false;
    return { outcome: "orphaned", writes: 0, requeueAfterMs: 0 };
  }
  const step = await markOrphan(d.lifecycle, id, ctx.signal);
  if (step.state === "gone") {
    d.records.delete(id);
    return { outcome: "orphaned", writes: 0 };
  }
  const r = d.records.ensure(id);
  const now = d.lifecycle.now();
  if (step.state === "waiting") {
    r.orphan = { since: step.since, deleteAtMs: step.deleteAtMs };
    return { outcome: "orphaned", writes: step.writes, requeueAfterMs: step.deleteAtMs - now };
  }
  if (d.desired.ambiguous) {
    // The latest snapshot has an item whose id cannot be read: it may be this workspace.
    r.orphan = { since: step.since, deleteAtMs: now };
    ctx.logger.warn(
      { [F.delayMs]: AMBIGUOUS_RECHECK_MS },
      "orphan grace period over, but the latest snapshot has an item that cannot be identified; not deleting until a snapshot can be read in full",
    );
    return { outcome: "orphaned", writes: step.writes, requeueAfterMs: AMBIGUOUS_RECHECK_MS };
  }
  ctx.logger.warn("orphan grace period over; deleting the workspace's namespace");
  d.desired.markDeleting(id);
  r.orphanCandidate = false;
  return { outcome: "orphaned", writes: step.writes, requeueAfterMs: 0 };
}
