// The one inbound hand-off of both agents (issue 11, item 6). Inbound applies a validated stream
// event to the process's desired store, which returns a DesiredChange: plain keys, nothing
// scheduled yet. The process then (1) passes `refusals` to the stream (rejectedEvents), (2) marks
// `rejectionChanged` keys' status dirty, and (3) enqueues `keysToReconcile(change)` in its one
// Controller. Nothing here deletes: an orphan candidate is only a key to look at; the reconcile
// applies the orphan rule (orphan.ts) to what the cluster holds for it.
import type { SignatureRefusal } from "../controlplane/verify.ts";
import type { Controller } from "./controller.ts";
import type { Rejection, SnapshotPlan } from "./desired.ts";

export interface DesiredChange {
  /** Keys whose desired state changed (a spec or a delete was accepted): reconcile them. */
  changed: string[];
  /** Held before (desired, or present in the cluster) but not listed by this snapshot: may be orphans. */
  orphanCandidates: string[];
  /** Listed again or upserted (even with a refused spec): any orphan mark is to be removed. */
  adopted: string[];
  /** Keys whose rejection (condition SpecRejected) was set or cleared: their status changed. */
  rejectionChanged: string[];
  /** Refusals decided by the store (a generation older than the one held), for rejectedEvents. */
  refusals: string[];
  /** Keys moved into a newer control-plane epoch (epoch.ts), one line each: logged as warnings. */
  epochChanges?: string[];
}

/** A change that changes nothing. */
export function noChange(): DesiredChange {
  return { changed: [], orphanCandidates: [], adopted: [], rejectionChanged: [], refusals: [] };
}

/** Every key a change asks the controller to look at, each once, in first-seen order. */
export function keysToReconcile(change: DesiredChange): string[] {
  return [
    ...new Set([
      ...change.changed,
      ...change.orphanCandidates,
      ...change.adopted,
      ...change.rejectionChanged,
    ]),
  ];
}

/** Enqueues every key of `change` in `controller` (the process's one hand-off step). */
export function enqueueChange(controller: Pick<Controller, "enqueue">, change: DesiredChange): void {
  for (const key of keysToReconcile(change)) controller.enqueue(key);
}

/** What a store held before a snapshot, for `snapshotChange`. */
export interface HeldBefore {
  /** Keys held before: desired, or present in the cluster. */
  keys: Iterable<string>;
  /** Keys that had a rejection before. */
  rejected: Iterable<string>;
  /** True for a key being deleted explicitly: never an orphan candidate. */
  deleting(key: string): boolean;
}

/**
 * The hand-off of a snapshot (a `planSnapshot` plan), the same in both processes: the accepted keys
 * changed; every key held before that the snapshot does not list and that is not being deleted is
 * an orphan candidate (none when the snapshot is ambiguous: any of them may be the unreadable item);
 * every listed key, accepted or refused, is adopted; a rejection set or cleared changes status.
 */
export function snapshotChange<S>(
  plan: SnapshotPlan<S>,
  key: (spec: S) => string,
  before: HeldBefore,
): DesiredChange {
  const orphanCandidates = plan.ambiguous
    ? []
    : [...new Set(before.keys)].filter((k) => !plan.listed.has(k) && !before.deleting(k));
  return {
    changed: plan.accepted.map(key),
    orphanCandidates,
    adopted: [...plan.listed],
    rejectionChanged: [...new Set([...before.rejected, ...plan.rejections.keys()])],
    refusals: plan.refusals,
  };
}

/**
 * The hand-off of a delta whose signature the stream refused (signed desired state): the object it
 * names carries the refusal (condition SpecRejected with the signature's reason) and nothing else
 * changes. Undefined for a snapshot (its refused items go through its plan, the whole of it names
 * nothing) and for a refusal that names no object. The stream counted it already: no `refusals`.
 */
export function unverifiedChange(
  store: { refuse(key: string, rejection: Rejection): DesiredChange },
  type: string,
  refusal: SignatureRefusal,
): DesiredChange | undefined {
  if (type === "snapshot" || refusal.key === undefined) return undefined;
  return { ...store.refuse(refusal.key, { reason: refusal.reason, message: refusal.message }), refusals: [] };
}
