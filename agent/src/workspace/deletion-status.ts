// The DeletionBlocked condition of a workspace being deleted: whether its Flink deployments are
// still draining (and why one cannot), the way out, and — once they are gone — the final state each
// kept (its newest savepoint), reported upward before the namespace disappears so that a later
// workspace with the same id can restore from it. Present only while the workspace is deleting or
// just deleted.
import { ANNOTATION_FORCE_DELETE } from "@meridian/shared/contract/workspace-deletion";
import type { Condition } from "@meridian/shared/protocol/index";
import type { DrainProgress } from "./drain.ts";

export const CONDITION_DELETION_BLOCKED = "DeletionBlocked";

type MakeCondition = (
  type: string,
  status: Condition["status"],
  reason: string,
  message: string,
) => Condition;

/** "a: s3://…/savepoint-1; b: no savepoint" (sorted by deployment). */
export function finalStateText(finalState: Record<string, string | null>): string {
  const names = Object.keys(finalState).sort();
  if (names.length === 0) return "no Flink deployments";
  return names.map((n) => `${n}: ${finalState[n] ?? "no savepoint"}`).join("; ");
}

/**
 * The workspace status's `finalSavepoints` while it is deleting or deleted: every deployment's newest
 * restorable savepoint (those without one are named only in the condition), sorted by deployment.
 */
export function finalSavepoints(v: {
  deleting: boolean;
  deleted: boolean;
  drain?: DrainProgress | undefined;
}): { deployment: string; location: string }[] | undefined {
  if ((!v.deleting && !v.deleted) || !v.drain) return undefined;
  const out = Object.entries(v.drain.finalState)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([deployment, location]) => ({ deployment, location }));
  return out.sort((a, b) => a.deployment.localeCompare(b.deployment));
}

export function deletionCondition(
  v: { namespace: string; deleting: boolean; deleted: boolean; drain?: DrainProgress },
  c: MakeCondition,
): Condition | undefined {
  if (!v.deleting && !v.deleted) return undefined;
  const drain = v.drain ?? { pending: [], finalState: {}, forced: false };
  const kept = `final state kept: ${finalStateText(drain.finalState)}`;
  if (drain.forced)
    return c(
      CONDITION_DELETION_BLOCKED,
      "False",
      "Forced",
      `deleted without waiting for its Flink deployments (${ANNOTATION_FORCE_DELETE}=true on namespace ${v.namespace}); ${kept}`,
    );
  if (v.deleted || drain.pending.length === 0)
    return c(
      CONDITION_DELETION_BLOCKED,
      "False",
      "Drained",
      `every Flink deployment was deleted first; ${kept}`,
    );
  const blocked = drain.pending.filter((p) => p.blocked);
  const way = `fix the cause (the deployment's own DeletionBlocked condition says more), or force: kubectl annotate namespace ${v.namespace} ${ANNOTATION_FORCE_DELETE}=true (deletes without a final savepoint; ${ANNOTATION_FORCE_DELETE}=true on one deployment's ConfigMap forces only that one)`;
  if (blocked.length)
    return c(
      CONDITION_DELETION_BLOCKED,
      "True",
      "DeploymentBlocked",
      `${blocked.map((p) => `deployment ${p.name}: ${p.blocked?.reason}: ${p.blocked?.message}`).join("; ")}; ${way}; ${kept}`,
    );
  const waiting = drain.pending.map((p) => (p.step ? `${p.name} (${p.step})` : p.name)).join(", ");
  return c(
    CONDITION_DELETION_BLOCKED,
    "False",
    "Draining",
    `waiting for the Flink deployments to be deleted first: ${waiting}; ${kept}`,
  );
}
