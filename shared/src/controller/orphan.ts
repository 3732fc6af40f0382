// The one orphan rule of both agents. An object the control plane's snapshot no longer lists (and
// never deleted explicitly) is orphaned: the time it was first seen missing is written on the
// object itself (an annotation), so neither a restart nor a leader change resets or forgets the
// grace period, and it is deleted only once that period is over. Explicit deletes never come here.

/** Annotation holding the ISO time the object was first seen missing from a snapshot. */
export const ANNOTATION_ORPHANED_SINCE = "meridian.dev/orphaned-since";

export type OrphanPlan =
  /** Not marked yet (or the mark is unreadable): write `since` onto the object, then wait. */
  | { state: "mark"; since: string; deleteAtMs: number }
  /** Marked; delete at `deleteAtMs` unless it comes back. */
  | { state: "waiting"; since: string; deleteAtMs: number }
  /** The grace period is over: delete. */
  | { state: "expired"; since: string; deleteAtMs: number };

/**
 * What to do with an orphan whose object carries `annotations`. A mark in the future (a clock
 * that jumped, a hand edit) counts from now, so it can never shorten the grace period.
 */
export function planOrphan(
  annotations: Readonly<Record<string, string>> | undefined,
  nowMs: number,
  gracePeriodMs: number,
): OrphanPlan {
  const mark = annotations?.[ANNOTATION_ORPHANED_SINCE];
  const markedMs = mark === undefined ? Number.NaN : Date.parse(mark);
  if (!Number.isFinite(markedMs) || markedMs > nowMs) {
    const since = new Date(nowMs).toISOString();
    return { state: "mark", since, deleteAtMs: nowMs + gracePeriodMs };
  }
  const since = mark as string;
  const deleteAtMs = markedMs + gracePeriodMs;
  return nowMs >= deleteAtMs
    ? { state: "expired", since, deleteAtMs }
    : { state: "waiting", since, deleteAtMs };
}

/** True when the object carries an orphan mark (to be removed once it is desired again). */
export function isMarkedOrphan(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return annotations?.[ANNOTATION_ORPHANED_SINCE] !== undefined;
}
