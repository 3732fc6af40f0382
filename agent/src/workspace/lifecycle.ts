// The destructive steps, kept apart from the apply path: marking a workspace orphaned (a condition,
// an annotation so the grace period survives restarts, an Event) and deleting its namespace. Only
// an explicit workspace.delete or an orphan past its grace period ever reaches deleteNamespace, and
// both act only on a namespace labelled as Meridian's for that very workspace (caches.get returns
// nothing else): anyone else's namespace of the same name is left exactly as it is.
import { planOrphan } from "@meridian/shared/controller/orphan";
import { applyObject, deleteObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import type { EventRecorder } from "@meridian/shared/kube/events";
import { FIELD_MANAGER_AGENT, MANAGED_BY_AGENT } from "@meridian/shared/kube/labels";
import { notOwnedReason } from "@meridian/shared/kube/ownership";
import { type KubeObject, NAMESPACES } from "@meridian/shared/kube/resources";
import type { OwnedCaches } from "../caches.ts";
import type { PodSecurityPolicy } from "../hardening-policy.ts";
import { buildNamespace, namespaceName, recordedHeld } from "./objects.ts";

export interface LifecycleDeps {
  kube: KubeClient;
  caches: OwnedCaches;
  recorder: EventRecorder;
  namespacePrefix: string;
  orphanGracePeriodMs: number;
  /** The policy's podSecurity: the orphan mark re-applies the Namespace with its labels. */
  podSecurity: PodSecurityPolicy;
  now(): number;
}

export type OrphanStep =
  | { state: "gone" }
  | { state: "waiting"; since: string; deleteAtMs: number; writes: number }
  | { state: "expired"; since: string; writes: number };

/**
 * Marks the workspace's namespace orphaned (once: the mark carries the time it was first seen
 * missing; the one orphan rule, shared/src/controller/orphan.ts) and says whether its grace period
 * is over. Writes nothing when already marked.
 */
export async function markOrphan(deps: LifecycleDeps, id: string, signal: AbortSignal): Promise<OrphanStep> {
  const name = namespaceName(deps.namespacePrefix, id);
  const ns = deps.caches.get<KubeObject>(NAMESPACES, undefined, name);
  if (!ns) return { state: "gone" };
  const now = deps.now();
  const plan = planOrphan(ns.metadata?.annotations, now, deps.orphanGracePeriodMs);
  let writes = 0;
  if (plan.state === "mark") {
    const applied = await applyObject(
      deps.kube,
      NAMESPACES,
      // The generation recorded on it stays: the mark must not forget what was applied.
      buildNamespace(id, deps.namespacePrefix, {
        orphanedSince: plan.since,
        generation: recordedHeld(ns),
        podSecurity: deps.podSecurity,
      }),
      {
        fieldManager: FIELD_MANAGER_AGENT,
        force: true,
        signal,
      },
    );
    deps.caches.noteWritten(NAMESPACES, applied);
    writes++;
    const deleteAt = new Date(plan.deleteAtMs).toISOString();
    void deps.recorder.record(
      applied,
      "Warning",
      "Orphaned",
      `workspace ${id} is missing from the control plane's snapshot; its namespace will be deleted at ${deleteAt} unless it reappears`,
    );
  }
  if (now >= plan.deleteAtMs) return { state: "expired", since: plan.since, writes };
  return { state: "waiting", since: plan.since, deleteAtMs: plan.deleteAtMs, writes };
}

export type DeleteStep = { state: "gone"; leftAlone?: string } | { state: "deleting"; writes: number };

/**
 * Deletes the workspace's namespace (once); "gone" once no namespace of Meridian's is left for it
 * (`leftAlone` says why one of that name that is not Meridian's was not touched). The delete is
 * conditional on the uid and resourceVersion the cache vouched for as ours: had the namespace been
 * replaced or changed since (relabelled, say), the API server refuses it and the next try looks again.
 */
export async function deleteNamespace(
  deps: LifecycleDeps,
  id: string,
  why: string,
  signal: AbortSignal,
): Promise<DeleteStep> {
  const name = namespaceName(deps.namespacePrefix, id);
  const ns = deps.caches.get<KubeObject>(NAMESPACES, undefined, name);
  if (!ns) {
    const other = deps.caches.foreign(NAMESPACES, undefined, name);
    const reason = other && notOwnedReason(other, MANAGED_BY_AGENT, id);
    return reason
      ? { state: "gone", leftAlone: `namespace ${name} is not Meridian's: ${reason}` }
      : { state: "gone" };
  }
  if (ns.metadata?.deletionTimestamp) return { state: "deleting", writes: 0 };
  await deps.recorder.record(ns, "Normal", "Deleting", `deleting namespace ${name}: ${why}`);
  const existed = await deleteObject(deps.kube, NAMESPACES, undefined, name, {
    propagationPolicy: "Background",
    uid: ns.metadata?.uid,
    resourceVersion: ns.metadata?.resourceVersion,
    signal,
  });
  if (!existed) return { state: "gone" };
  deps.caches.noteWritten(NAMESPACES, {
    ...ns,
    metadata: { ...ns.metadata, deletionTimestamp: new Date(deps.now()).toISOString() },
  });
  return { state: "deleting", writes: 2 };
}
