// Per-workspace bookkeeping of the leader: one serialized queue per workspace, the outcome of the
// last reconcile, retry / credential-refresh / orphan-deadline timers, and the views status is
// built from. Every timer dies with the leadership session (stop()).
import { randomBytes } from "node:crypto";
import { backoffDelay } from "@meridian/shared/kube/backoff";
import { reasonOf } from "@meridian/shared/kube/errors";
import type { KeyedQueue } from "@meridian/shared/kube/queue";
import { DEPLOYMENTS, NAMESPACES } from "@meridian/shared/kube/resources";
import { F, type Logger } from "@meridian/shared/log";
import type { DesiredState } from "./inbound.ts";
import { deleteNamespace, type LifecycleDeps, markOrphan } from "./lifecycle.ts";
import type { AgentMetrics } from "./metrics.ts";
import { credentialRetryDelay } from "./workspace/credentials.ts";
import { NAMES, namespaceName, recordedGeneration } from "./workspace/objects.ts";
import { type ReconcileDeps, RetryableError, reconcileWorkspace } from "./workspace/reconcile.ts";
import type { WorkspaceView } from "./workspace/status.ts";

interface WorkspaceRecord {
  observedGeneration: number;
  appliedGeneration?: number;
  aligned: boolean;
  violations?: string[];
  loggedViolation?: string;
  /** Objects in the way that are not Meridian's (the spec was not applied), one message each. */
  conflicts?: string[];
  loggedConflict?: string;
  error?: { reason: string; message: string };
  credentialError?: string;
  credentialFailures: number;
  failures: number;
  orphanCandidate: boolean;
  orphan?: { since: string; deleteAtMs: number };
  /** Reported as Deleted; dropped after this many more successful status sends. */
  deletedReportsLeft?: number;
}

export interface WorkspaceManagerDeps {
  reconcile: ReconcileDeps;
  lifecycle: LifecycleDeps;
  desired: DesiredState;
  queue: KeyedQueue;
  logger: Logger;
  metrics: AgentMetrics;
  signal: AbortSignal;
  /** Something reportable changed: about one workspace, or (no id) about several. */
  onChange(id?: string): void;
}

/** How often an orphan past its grace period looks again while the latest snapshot is ambiguous. */
const AMBIGUOUS_RECHECK_MS = 60_000;

type Outcome =
  | "unchanged"
  | "applied"
  | "refused"
  | "conflict"
  | "failed"
  | "orphaned"
  | "deleting"
  | "deleted"
  | "ignored";

export class WorkspaceManager {
  readonly #d: WorkspaceManagerDeps;
  readonly #records = new Map<string, WorkspaceRecord>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(deps: WorkspaceManagerDeps) {
    this.#d = deps;
    deps.signal.addEventListener("abort", () => this.stop(), { once: true });
  }

  /** Queues a reconcile of `id` if there is anything to do for it. */
  schedule(id: string): void {
    if (this.#d.signal.aborted || !this.#isKnown(id)) return;
    this.#d.queue.schedule(id, () => this.#run(id)).catch(() => {});
  }

  scheduleAll(): void {
    const ids = new Set([
      ...this.#d.desired.ids(),
      ...this.#d.desired.deletingIds(),
      ...this.#records.keys(),
    ]);
    for (const id of ids) this.schedule(id);
  }

  markOrphanCandidates(ids: readonly string[]): void {
    for (const id of ids) {
      this.#record(id).orphanCandidate = true;
      this.schedule(id);
    }
  }

  adopt(ids: readonly string[]): void {
    for (const id of ids) {
      const r = this.#records.get(id);
      if (!r) continue;
      r.orphanCandidate = false;
      r.orphan = undefined;
      r.deletedReportsLeft = undefined;
      this.#clearTimer(`orphan:${id}`);
    }
  }

  /** A status was accepted by the control plane: Deleted entries go after two of those. */
  statusSent(): void {
    let changed = false;
    for (const [id, r] of this.#records) {
      if (r.deletedReportsLeft === undefined) continue;
      if (--r.deletedReportsLeft <= 0) {
        this.#records.delete(id);
        changed = true;
      }
    }
    if (changed) this.#d.onChange();
  }

  /** What status reports, one view per workspace the agent knows about. */
  /** The workspaces status reports: desired, being deleted, with a refused spec, orphaned, or just Deleted. */
  reportedIds(): string[] {
    const { desired } = this.#d;
    const ids = new Set([...desired.ids(), ...desired.deletingIds(), ...desired.rejectedIds()]);
    for (const [id, r] of this.#records) if (r.orphan || r.deletedReportsLeft !== undefined) ids.add(id);
    return [...ids];
  }

  /** What status is computed from for one workspace. */
  view(id: string): WorkspaceView {
    const { desired } = this.#d;
    const r = this.#records.get(id);
    const spec = desired.get(id);
    const ns = namespaceName(this.#d.lifecycle.namespacePrefix, id);
    const deployment = this.#d.reconcile.caches.get(DEPLOYMENTS, ns, NAMES.deployment);
    const readyReplicas = (deployment?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0;
    const rejection = desired.rejection(id);
    // After a restart, before any reconcile: the generation recorded on the namespace was applied.
    const recorded = recordedGeneration(this.#d.reconcile.caches.get(NAMESPACES, undefined, ns)) ?? 0;
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
    };
  }

  views(): WorkspaceView[] {
    return this.reportedIds().map((id) => this.view(id));
  }

  stop(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  #isKnown(id: string): boolean {
    const { desired } = this.#d;
    return (
      desired.get(id) !== undefined || desired.isDeleting(id) || !!this.#records.get(id)?.orphanCandidate
    );
  }

  #record(id: string): WorkspaceRecord {
    let r = this.#records.get(id);
    if (!r) {
      r = {
        observedGeneration: 0,
        aligned: false,
        credentialFailures: 0,
        failures: 0,
        orphanCandidate: false,
      };
      this.#records.set(id, r);
    }
    return r;
  }

  async #run(id: string): Promise<void> {
    const { signal, logger, metrics, desired } = this.#d;
    if (signal.aborted) return;
    const started = performance.now();
    const reconcileId = randomBytes(4).toString("hex");
    const r = this.#record(id);
    let outcome: Outcome = "ignored";
    let writes = 0;
    try {
      const spec = desired.get(id);
      if (desired.isDeleting(id)) {
        const step = await deleteNamespace(
          this.#d.lifecycle,
          id,
          "the control plane deleted the workspace",
          signal,
        );
        if (step.state === "gone") {
          if (step.leftAlone)
            logger.warn(
              { [F.workspace]: id, [F.reason]: step.leftAlone },
              "workspace deleted; its namespace is not Meridian's and was left alone",
            );
          desired.finishDeleting(id);
          Object.assign(r, { orphanCandidate: false, orphan: undefined, aligned: false, error: undefined });
          Object.assign(r, { conflicts: undefined, loggedConflict: undefined });
          r.deletedReportsLeft = 2;
          outcome = "deleted";
        } else {
          writes = step.writes;
          outcome = "deleting";
        }
      } else if (spec) {
        r.orphanCandidate = false;
        r.orphan = undefined;
        const res = await reconcileWorkspace(this.#d.reconcile, spec, r.appliedGeneration, signal);
        r.observedGeneration = spec.generation;
        r.error = undefined;
        writes = res.writes;
        outcome = res.outcome;
        r.conflicts = res.outcome === "conflict" ? res.conflicts.map((c) => c.message) : undefined;
        if (!r.conflicts) r.loggedConflict = undefined;
        if (res.outcome === "refused") {
          r.violations = res.violations.map((v) => v.message);
          this.#logRefusalOnce(id, spec.generation, r);
        } else if (res.outcome === "conflict") {
          r.violations = undefined;
          r.loggedViolation = undefined;
          r.aligned = false;
          this.#logConflictOnce(id, r);
        } else {
          r.violations = undefined;
          r.loggedViolation = undefined;
          r.appliedGeneration = spec.generation;
          r.aligned = true;
          this.#afterCredential(id, r, res.credential);
        }
      } else if (r.orphanCandidate) {
        const step = await markOrphan(this.#d.lifecycle, id, signal);
        if (step.state === "gone") {
          this.#records.delete(id);
        } else if (step.state === "waiting") {
          r.orphan = { since: step.since, deleteAtMs: step.deleteAtMs };
          writes = step.writes;
          this.#setTimer(`orphan:${id}`, step.deleteAtMs - this.#d.lifecycle.now(), id);
        } else if (desired.ambiguous) {
          // The latest snapshot has an item whose id cannot be read: it may be this workspace.
          r.orphan = { since: step.since, deleteAtMs: this.#d.lifecycle.now() };
          this.#setTimer(`orphan:${id}`, AMBIGUOUS_RECHECK_MS, id);
          logger.warn(
            { [F.workspace]: id, [F.delayMs]: AMBIGUOUS_RECHECK_MS },
            "orphan grace period over, but the latest snapshot has an item that cannot be identified; not deleting until a snapshot can be read in full",
          );
        } else {
          logger.warn({ [F.workspace]: id }, "orphan grace period over; deleting the workspace's namespace");
          desired.markDeleting(id);
          r.orphanCandidate = false;
          this.schedule(id);
        }
        outcome = "orphaned";
      }
      r.failures = 0;
      this.#clearTimer(`retry:${id}`);
    } catch (err) {
      if (signal.aborted) return;
      outcome = "failed";
      const reason = err instanceof RetryableError ? err.reason : reasonOf(err);
      r.error = { reason, message: (err as Error).message };
      metrics.reconcileErrors.inc({ reason });
      const delayMs = backoffDelay(r.failures++, { baseMs: 200, capMs: 30_000 }) + 50;
      this.#setTimer(`retry:${id}`, delayMs, id);
      logger.warn(
        { [F.workspace]: id, [F.reconcileId]: reconcileId, err, [F.delayMs]: delayMs },
        "reconcile failed; retrying",
      );
    }
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    metrics.reconcileDuration.observe({ outcome }, durationMs / 1000);
    if (outcome !== "ignored")
      logger.info(
        {
          [F.workspace]: id,
          [F.reconcileId]: reconcileId,
          [F.outcome]: outcome,
          [F.writes]: writes,
          [F.durationMs]: durationMs,
        },
        "reconciled workspace",
      );
    this.#d.onChange(id);
  }

  #afterCredential(
    id: string,
    r: WorkspaceRecord,
    c: { ok: true; refreshAtMs: number } | { ok: false; error: string },
  ): void {
    if (c.ok) {
      r.credentialError = undefined;
      r.credentialFailures = 0;
      this.#setTimer(`cred:${id}`, c.refreshAtMs - this.#d.reconcile.now(), id);
      return;
    }
    r.credentialError = c.error;
    this.#d.metrics.reconcileErrors.inc({ reason: "CredentialUnavailable" });
    const delayMs = credentialRetryDelay(r.credentialFailures++);
    this.#setTimer(`cred:${id}`, delayMs, id);
    this.#d.logger.warn(
      { [F.workspace]: id, [F.reason]: c.error, [F.delayMs]: delayMs },
      "no workspace credential; retrying",
    );
  }

  #logRefusalOnce(id: string, generation: number, r: WorkspaceRecord): void {
    const key = `${generation}:${r.violations?.join("; ")}`;
    if (r.loggedViolation === key) return;
    r.loggedViolation = key;
    this.#d.logger.warn(
      { [F.workspace]: id, [F.reason]: r.violations?.join("; "), [F.outcome]: "refused" },
      "workspace refused by the local policy; nothing applied",
    );
    // An update refused for a workspace that already exists can carry a Warning Event on its
    // namespace; a new workspace has nowhere to hold one (the log line and the status say it).
    const ns = this.#d.reconcile.caches.get(
      NAMESPACES,
      undefined,
      namespaceName(this.#d.lifecycle.namespacePrefix, id),
    );
    if (ns)
      void this.#d.reconcile.recorder.record(
        ns,
        "Warning",
        "PolicyViolation",
        `generation ${generation} refused by the local policy, nothing applied: ${r.violations?.join("; ")}`,
      );
  }

  /**
   * A Warning line once per distinct set of conflicts (not on every resync), and a Warning Event on
   * the workspace's namespace when that namespace is Meridian's (never on anyone else's object).
   */
  #logConflictOnce(id: string, r: WorkspaceRecord): void {
    const reason = r.conflicts?.join("; ") ?? "";
    if (r.loggedConflict === reason) return;
    r.loggedConflict = reason;
    this.#d.logger.warn(
      { [F.workspace]: id, [F.reason]: reason, [F.outcome]: "conflict" },
      "workspace refused: an object it needs exists and is not Meridian's; nothing written",
    );
    const ns = this.#d.reconcile.caches.get(
      NAMESPACES,
      undefined,
      namespaceName(this.#d.lifecycle.namespacePrefix, id),
    );
    if (ns) void this.#d.reconcile.recorder.record(ns, "Warning", "OwnershipConflict", reason);
  }

  #setTimer(key: string, delayMs: number, id: string): void {
    this.#clearTimer(key);
    if (this.#d.signal.aborted) return;
    // setTimeout's limit is ~24.8 days; a longer wait just wakes once early and re-plans.
    const t = setTimeout(
      () => {
        this.#timers.delete(key);
        this.schedule(id);
      },
      Math.min(Math.max(0, delayMs), 2 ** 31 - 1),
    );
    t.unref();
    this.#timers.set(key, t);
  }

  #clearTimer(key: string): void {
    const t = this.#timers.get(key);
    if (t) clearTimeout(t);
    this.#timers.delete(key);
  }
}
