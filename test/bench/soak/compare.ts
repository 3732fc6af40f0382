// The soak's verdict on correctness: the control plane's change log against what was applied and
// reported. Every function returns the problems it found as sentences (none: all held), so the test
// can assert an empty list and the benchmark can print them.
import { type Expected, liveGenerations } from "./expected.ts";
import type { AppliedItem } from "./journal.ts";

/**
 * Per item: a live one carries exactly its last logged generation and was never marked for
 * deletion; a deleted one is gone or going; every generation ever applied was logged for that item,
 * and they only moved forward (an old event applied again would move one back); nothing was applied
 * for an item the log never mentioned.
 */
export function compareApplied(
  what: string,
  expected: Expected,
  applied: Map<string, AppliedItem>,
): string[] {
  const problems: string[] = [];
  for (const [key, exp] of expected.items) {
    const got = applied.get(key);
    const last = exp.generations.at(-1);
    if (exp.deleted) {
      if (got?.present) problems.push(`${what} ${key} was deleted in the log but still exists`);
    } else if (!got?.present) {
      problems.push(`${what} ${key} (generation ${last}) is missing`);
    } else if (got.generations.at(-1) !== last) {
      problems.push(`${what} ${key} carries generation ${got.generations.at(-1)}, the log's last is ${last}`);
    }
    if (!exp.deleted && exp.deletes === 0 && got?.deletionSeen)
      problems.push(`${what} ${key} was marked for deletion although the log never deleted it`);
    const unknown = got?.generations.filter((g) => !exp.generations.includes(g)) ?? [];
    if (unknown.length) problems.push(`${what} ${key} carried generations ${unknown} the log never had`);
    const backwards = got?.generations.some((g, i, all) => i > 0 && g < all[i - 1]!);
    if (backwards) problems.push(`${what} ${key} went back: generations ${got?.generations.join(" → ")}`);
  }
  for (const key of applied.keys())
    if (!expected.items.has(key)) problems.push(`${what} ${key} was applied but the log never had it`);
  return problems;
}

/** Status entries as the control plane last received them: item → observed generation and phase. */
export type ReportedItems = Map<string, { observedGeneration: number; phase: string }>;

/** The last status reports every live item at its last generation, and no deleted one as live. */
export function compareReported(what: string, expected: Expected, reported: ReportedItems): string[] {
  const problems: string[] = [];
  for (const [key, exp] of expected.items) {
    const r = reported.get(key);
    if (exp.deleted) {
      if (r && r.phase !== "Deleted" && r.phase !== "Deleting")
        problems.push(`${what} ${key} was deleted in the log but status reports it ${r.phase}`);
    } else if (r?.observedGeneration !== exp.generations.at(-1)) {
      problems.push(
        `${what} ${key}: status reports generation ${r?.observedGeneration ?? "(absent)"}, the log's last is ${exp.generations.at(-1)}`,
      );
    }
  }
  return problems;
}

/** What an agent took in from its stream, in the order it came. */
export interface Received {
  /** Event ids, when the agent logs one line per event (the workspace agent). */
  ids?: string[];
  /** Events per type, when it only counts them (the agent's stream_events_total). */
  counts?: Map<string, number>;
  /** Ids of the snapshots it received: the first opens the soak's session, a later one a new session. */
  snapshots: string[];
}

/**
 * Events taken in against the log. Each logged event arrived once, unless a later snapshot (a new
 * session: a lost leadership, a resume the server could not serve) covered it: a snapshot carries the
 * state up to its id, so events up to there may never arrive as events. With ids the check is exact;
 * with counts, exact for one session and bounded with more. The stream's last event id in status must
 * be the log's last.
 */
export function compareEvents(
  what: string,
  expected: Expected,
  received: Received,
  lastEventId: string | undefined,
): string[] {
  const problems: string[] = [];
  const covered = Math.max(0, ...received.snapshots.slice(1).map(Number));
  if (received.ids) {
    const logged = new Set(expected.changes.map((c) => String(c.seq)));
    const seen = new Map<string, number>();
    for (const id of received.ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    const missed = [...logged].filter((id) => !seen.has(id) && Number(id) > covered);
    const duplicated = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
    const foreign = [...seen.keys()].filter((id) => !logged.has(id));
    if (missed.length)
      problems.push(`${what}: ${missed.length} logged events never arrived: ${head(missed)}`);
    if (duplicated.length) problems.push(`${what}: events arrived more than once: ${head(duplicated)}`);
    if (foreign.length) problems.push(`${what}: events arrived that the log does not have: ${head(foreign)}`);
  }
  if (received.counts) {
    const all = countByType(expected.changes);
    const after = countByType(expected.changes.filter((c) => c.seq > covered));
    for (const type of new Set([...all.keys(), ...received.counts.keys()])) {
      const [min, max] = [after.get(type) ?? 0, all.get(type) ?? 0];
      const got = received.counts.get(type) ?? 0;
      if (got < min || got > max)
        problems.push(
          `${what}: ${got} ${type} events received, the log has ${max}${min < max ? ` (${min} after the last snapshot)` : ""}`,
        );
    }
  }
  if (lastEventId !== expected.lastEventId)
    problems.push(
      `${what}: status says lastEventId ${lastEventId}, the log's last is ${expected.lastEventId}`,
    );
  return problems;
}

function countByType(changes: Expected["changes"]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of changes) out.set(c.type, (out.get(c.type) ?? 0) + 1);
  return out;
}

/** Ids of the snapshots in "snapshot received" log lines, in order (a snapshot may be logged twice). */
export function snapshotIds(lines: readonly string[]): string[] {
  const ids = lines
    .filter((l) => l.includes('"snapshot received"'))
    .map((l) => /"eventId":"(\d+)"/.exec(l)?.[1])
    .filter((id): id is string => id !== undefined);
  return ids.filter((id, i) => id !== ids[i - 1]);
}

/** Problems that are the harness's, not the agent's: the driver's model disagrees with the log. */
export function checkDriver(expected: Expected, live: Iterable<string>): string[] {
  const logged = [...liveGenerations(expected).keys()].sort();
  const driven = [...live].sort();
  return logged.join() === driven.join()
    ? []
    : [`the churn driver's ${driven.length} live items differ from the log's ${logged.length}`];
}

function head(xs: string[]): string {
  return xs.length > 10 ? `${xs.slice(0, 10).join(", ")}, …` : xs.join(", ");
}
