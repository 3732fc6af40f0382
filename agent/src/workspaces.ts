// The leader's workspaces: one record per workspace (workspace/record.ts), the views status is
// built from, and the ONE shared Controller (shared/src/controller/controller.ts) every reconcile
// goes through — its keyed queue, global bound, per-key timers, back-off, reconcile ids, log lines.
// Credential refreshes and orphan deadlines are the reconcile's requeueAfterMs; failures are the
// controller's back-off. Everything dies with the leadership session (stop()).
import { Controller, type RunRecord } from "@meridian/shared/controller/controller";
import { type DesiredChange, keysToReconcile } from "@meridian/shared/controller/desired-change";
import { DEPLOYMENTS, NAMESPACES } from "@meridian/shared/kube/resources";
import { F, type Logger } from "@meridian/shared/log";
import type { DesiredState } from "./desired.ts";
import type { AgentMetrics } from "./metrics.ts";
import type { ApplyDeps } from "./workspace/apply.ts";
import type { LifecycleDeps } from "./workspace/lifecycle.ts";
import { NAMES, namespaceName, recordedGeneration } from "./workspace/objects.ts";
import { workspaceReconciler } from "./workspace/reconcile.ts";
import { WorkspaceRecords } from "./workspace/record.ts";
import type { WorkspaceView } from "./workspace/status.ts";

export interface WorkspaceManagerDeps {
  apply: ApplyDeps;
  lifecycle: LifecycleDeps;
  desired: DesiredState;
  logger: Logger;
  metrics: AgentMetrics;
  /** How many workspaces reconcile at once. */
  concurrency: number;
  /** Something reportable changed: about one workspace, or (no id) about several. */
  onChange(id?: string): void;
}

export class WorkspaceManager {
  readonly #d: WorkspaceManagerDeps;
  readonly #records = new WorkspaceRecords();
  readonly #controller: Controller;

  constructor(deps: WorkspaceManagerDeps) {
    this.#d = deps;
    this.#controller = new Controller({
      reconcile: workspaceReconciler({ ...deps, records: this.#records }),
      logger: deps.logger,
      keyField: F.workspace,
      message: "reconciled workspace",
      concurrency: deps.concurrency,
      quietOutcomes: ["ignored"],
      onRun: (run) => this.#observed(run),
    });
  }

  /** Reconciles may run from now on (the caches have listed everything). */
  start(): void {
    this.#controller.start();
  }

  /** Stops the controller; `drainMs`: runs in progress get that long to finish first. */
  stop(opts: { drainMs?: number } = {}): Promise<void> {
    return this.#controller.stop(opts);
  }

  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void> {
    return this.#controller.idle();
  }

  /** Queues a reconcile of `id` if there is anything to do for it. */
  schedule(id: string): void {
    if (this.#isKnown(id)) this.#controller.enqueue(id);
  }

  scheduleAll(): void {
    const { desired } = this.#d;
    const ids = new Set([...desired.ids(), ...desired.deletingIds(), ...this.#records.ids()]);
    for (const id of ids) this.schedule(id);
  }

  /** The inbound hand-off: what a stream event changed in the desired state. */
  accept(change: DesiredChange): void {
    // A control plane that starts over (decisions.md 42) is said loudly, once per workspace.
    for (const line of change.epochChanges ?? []) this.#d.logger.warn({ [F.reason]: "EpochChanged" }, line);
    for (const id of change.adopted) {
      const r = this.#records.get(id);
      if (!r) continue;
      r.orphanCandidate = false;
      r.orphan = undefined;
      r.deletedReportsLeft = undefined;
    }
    for (const id of change.orphanCandidates) this.#records.ensure(id).orphanCandidate = true;
    for (const id of keysToReconcile(change)) this.schedule(id);
  }

  /** A status was accepted by the control plane: Deleted entries go after two of those. */
  statusSent(): void {
    let changed = false;
    for (const [id, r] of this.#records.entries()) {
      if (r.deletedReportsLeft === undefined) continue;
      if (--r.deletedReportsLeft <= 0) {
        this.#records.delete(id);
        changed = true;
      }
    }
    if (changed) this.#d.onChange();
  }

  /** The workspaces status reports: desired, being deleted, with a refused spec, orphaned, or just Deleted. */
  reportedIds(): string[] {
    const { desired } = this.#d;
    const ids = new Set([...desired.ids(), ...desired.deletingIds(), ...desired.rejectedIds()]);
    for (const [id, r] of this.#records.entries())
      if (r.orphan || r.deletedReportsLeft !== undefined) ids.add(id);
    return [...ids];
  }

  /** What status is computed from for one workspace. */
  view(id: string): WorkspaceView {
    const { desired } = this.#d;
    const r = this.#records.get(id);
    const spec = desired.get(id);
    const ns = namespaceName(this.#d.lifecycle.namespacePrefix, id);
    const deployment = this.#d.apply.caches.get(DEPLOYMENTS, ns, NAMES.deployment);
    const readyReplicas = (deployment?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0;
    const rejection = desired.rejection(id);
    // After a restart, before any reconcile: the generation recorded on the namespace was applied.
    const recorded = recordedGeneration(this.#d.apply.caches.get(NAMESPACES, undefined, ns)) ?? 0;
    return {
      id,
      namespace: ns,
      observedGeneration: Math.max(r?.observedGeneration ?? 0, recorded),
      rejection: rejection && { ...rejection, held: spec !== undefined },
      violations: r?.violations,
      conflicts: r?.conflicts,
      error: r?.error,
      aligned: !!r?.aligned && spec !== undefined && r.appliedGeneration === spec.generation,
      credentialError: r?.credentialError,
      deploymentReady: deployment ? readyReplicas >= 1 : undefined,
      orphanedSince: spec ? undefined : r?.orphan?.since,
      orphanDeleteAt: r?.orphan ? new Date(r.orphan.deleteAtMs).toISOString() : undefined,
      deleting: desired.isDeleting(id),
      deleted: r?.deletedReportsLeft !== undefined,
      drain: r?.drain,
    };
  }

  #isKnown(id: string): boolean {
    const { desired } = this.#d;
    return (
      desired.get(id) !== undefined || desired.isDeleting(id) || !!this.#records.get(id)?.orphanCandidate
    );
  }

  /** Metrics and the record's error, after every run (the controller logged it already). */
  #observed(run: RunRecord): void {
    const { metrics } = this.#d;
    metrics.reconcileDuration.observe({ outcome: run.outcome }, run.durationMs / 1000);
    if (run.error) {
      metrics.reconcileErrors.inc({ reason: run.error.reason });
      this.#records.ensure(run.key).error = { reason: run.error.reason, message: run.error.message };
    }
    this.#d.onChange(run.key);
  }
}
