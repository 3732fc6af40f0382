// A workspace's reported status: phase and the five conditions (Ready, SpecAligned, PolicyViolation,
// OwnershipConflict, Orphaned), computed from what the agent knows. Pure, except that the book remembers when each
// condition last changed so lastTransitionTime means what it says. A sixth, SpecRejected, is present
// only while the latest spec received for the workspace stands refused (invalid or stale); a seventh,
// DeletionBlocked (deletion-status.ts), only while the workspace is being deleted or just deleted.
import type { Condition, WorkspacePhase, WorkspaceStatus } from "@meridian/shared/protocol/index";
import { CONDITION_DELETION_BLOCKED, deletionCondition, finalSavepoints } from "./deletion-status.ts";
import type { DrainProgress } from "./drain.ts";

/** Everything the status of one workspace is computed from. */
export interface WorkspaceView {
  id: string;
  namespace: string;
  /** Generation of the spec last acted on (applied or refused); 0 when unknown. */
  observedGeneration: number;
  /** Policy violations of the current spec (the spec was not applied). */
  violations?: string[];
  /** Objects the workspace needs exist and are not Meridian's (the spec was not applied). */
  conflicts?: string[];
  /**
   * The latest spec received was refused on arrival (invalid, or older than the generation held);
   * `held`: an earlier spec is still applied.
   */
  rejection?: { reason: string; message: string; held: boolean } | undefined;
  /** The last reconcile failed (reason, message). */
  error?: { reason: string; message: string };
  /** The last reconcile of this generation found or made the cluster match. */
  aligned: boolean;
  /** A credential could not be obtained from the control plane. */
  credentialError?: string;
  /** The workspace agent Deployment has a ready replica; undefined when there is no Deployment. */
  deploymentReady: boolean | undefined;
  /** Missing from the snapshots since then (RFC 3339), and deleted at `orphanDeleteAt`. */
  orphanedSince?: string;
  orphanDeleteAt?: string;
  deleting: boolean;
  deleted: boolean;
  /** Deleting: how its Flink deployments drain (DeletionBlocked). */
  drain?: DrainProgress;
}

export function phaseOf(v: WorkspaceView): WorkspacePhase {
  if (v.deleted) return "Deleted";
  if (v.deleting) return "Deleting";
  if (v.orphanedSince) return "Orphaned";
  if (v.violations?.length || v.conflicts?.length) return "Refused";
  if (v.rejection && !v.rejection.held) return "Refused";
  if (v.error) return "Degraded";
  if (v.aligned && v.deploymentReady) return "Ready";
  if (v.aligned && v.deploymentReady === false && v.credentialError) return "Degraded";
  return "Pending";
}

type Status = Condition["status"];

/** Remembers each condition's last status and transition time, per workspace. */
export class ConditionBook {
  readonly #book = new Map<string, Map<string, { status: Status; at: string }>>();

  condition(
    id: string,
    type: string,
    status: Status,
    reason: string,
    message: string,
    now: string,
  ): Condition {
    let byType = this.#book.get(id);
    if (!byType) {
      byType = new Map();
      this.#book.set(id, byType);
    }
    const prev = byType.get(type);
    const at = prev && prev.status === status ? prev.at : now;
    byType.set(type, { status, at });
    return { type, status, reason, message, lastTransitionTime: at };
  }

  forget(id: string): void {
    this.#book.delete(id);
  }

  /** A condition no longer reported: when it comes back, it transitions anew. */
  forgetCondition(id: string, type: string): void {
    this.#book.get(id)?.delete(type);
  }
}

export function workspaceStatus(v: WorkspaceView, book: ConditionBook, now: string): WorkspaceStatus {
  const c = (type: string, status: Status, reason: string, message: string) =>
    book.condition(v.id, type, status, reason, message, now);
  const ready =
    v.deploymentReady === undefined
      ? c("Ready", "False", "NotDeployed", "the workspace agent Deployment does not exist")
      : v.deploymentReady
        ? c("Ready", "True", "WorkspaceAgentReady", "the workspace agent has a ready replica")
        : c("Ready", "False", "WorkspaceAgentNotReady", "the workspace agent has no ready replica yet");
  let aligned: Condition;
  if (v.deleted || v.deleting)
    aligned = c("SpecAligned", "False", "Deleting", "the workspace is being deleted");
  else if (v.violations?.length)
    aligned = c(
      "SpecAligned",
      "False",
      "PolicyViolation",
      "refused by the local policy; nothing was applied",
    );
  else if (v.conflicts?.length)
    aligned = c(
      "SpecAligned",
      "False",
      "OwnershipConflict",
      "refused: an object the workspace needs exists and is not Meridian's; nothing was applied",
    );
  else if (v.error) aligned = c("SpecAligned", "False", v.error.reason, v.error.message);
  else if (v.credentialError) aligned = c("SpecAligned", "False", "CredentialUnavailable", v.credentialError);
  else if (v.aligned)
    aligned = c("SpecAligned", "True", "Applied", `generation ${v.observedGeneration} is applied`);
  else if (v.orphanedSince)
    aligned = c("SpecAligned", "Unknown", "Orphaned", "no desired state for this workspace");
  else aligned = c("SpecAligned", "Unknown", "Pending", "not reconciled yet");
  const policy = v.violations?.length
    ? c("PolicyViolation", "True", "PolicyViolation", v.violations.join("; "))
    : c("PolicyViolation", "False", "Allowed", "the spec satisfies the local policy");
  const conflict = v.conflicts?.length
    ? c("OwnershipConflict", "True", "ObjectNotOwned", v.conflicts.join("; "))
    : c("OwnershipConflict", "False", "NoConflict", "no object in the way is someone else's");
  const orphaned = v.orphanedSince
    ? c(
        "Orphaned",
        "True",
        "MissingFromSnapshot",
        `absent from the control plane's snapshot since ${v.orphanedSince}; deleted at ${v.orphanDeleteAt ?? "the end of the grace period"} unless it reappears`,
      )
    : c("Orphaned", "False", "Listed", "listed by the control plane");
  const out: WorkspaceStatus = {
    id: v.id,
    observedGeneration: v.observedGeneration,
    phase: phaseOf(v),
    namespace: v.namespace,
    conditions: [ready, aligned, policy, conflict, orphaned],
  };
  // Only while a rejection stands: a condition on every workspace would grow status for nothing.
  if (v.rejection)
    out.conditions.push(
      c(
        "SpecRejected",
        "True",
        v.rejection.reason,
        `${v.rejection.message}; ${v.rejection.held ? `generation ${v.observedGeneration} stays applied` : "nothing was applied"}`,
      ),
    );
  else book.forgetCondition(v.id, "SpecRejected");
  const deletion = deletionCondition(v, c);
  if (deletion) out.conditions.push(deletion);
  else book.forgetCondition(v.id, CONDITION_DELETION_BLOCKED);
  const kept = finalSavepoints(v);
  if (kept?.length) out.finalSavepoints = kept;
  return out;
}
