// The savepoint history's rules, pure: when a periodic savepoint is due, and which recorded savepoints
// the retention rule lets go (disposed through Flink's savepoint disposal API, actions.ts). Only
// savepoints Meridian recorded are ever disposed, and never a protected one: the newest (the last
// one of a suspended or deleted deployment, the next restore point), the one the current run was
// restored from, and any an operation in flight holds. See docs/flink-deployments.md.
import type { DeploymentSpec, SavepointInfo } from "@meridian/shared/protocol/index";
import type { LifecycleState } from "./lifecycle-state.ts";

/** Savepoints kept in the history when the spec's `savepoints` block names no `retention.maxCount`. */
export const DEFAULT_RETENTION_MAX_COUNT = 10;

export interface Retention {
  maxCount: number;
  maxAgeMs: number | undefined;
}

/**
 * The spec's retention rule, with `secondMs` the length of one of its seconds (1000; shorter only in
 * tests). undefined: the spec has no `savepoints` block, and nothing is ever disposed.
 */
export function retentionOf(spec: DeploymentSpec, secondMs = 1000): Retention | undefined {
  const s = spec.savepoints;
  if (!s) return undefined;
  const age = s.retention?.maxAgeSeconds;
  return {
    maxCount: s.retention?.maxCount ?? DEFAULT_RETENTION_MAX_COUNT,
    maxAgeMs: age === undefined ? undefined : age * secondMs,
  };
}

/** The periodic savepoint interval in ms; undefined when periodic savepoints are off. */
export function periodicIntervalMs(spec: DeploymentSpec, secondMs = 1000): number | undefined {
  const s = spec.savepoints?.intervalSeconds;
  return s === undefined ? undefined : s * secondMs;
}

/**
 * When the next periodic savepoint is due (ms since the epoch): one interval after the newest
 * savepoint of any trigger, or after the run started if that is later. From the persisted state only,
 * so a restarted workspace agent keeps the rhythm. undefined when periodic savepoints are off or no
 * run is deployed.
 */
export function periodicDueAt(state: LifecycleState, intervalMs: number | undefined): number | undefined {
  if (intervalMs === undefined || !state.run) return undefined;
  const last = state.savepoints.at(-1);
  const since = Math.max(Date.parse(state.run.startedAt), last ? Date.parse(last.time) : 0);
  return since + intervalMs;
}

/** Savepoints that must never be disposed, whatever the retention rule says. */
export function protectedLocations(state: LifecycleState): Set<string> {
  const keep = new Set<string>();
  const add = (l: string | undefined) => {
    if (l) keep.add(l);
  };
  add(state.savepoints.at(-1)?.location);
  add(state.run?.restoreFrom);
  add(state.run?.startedFrom);
  add(state.op?.savepoint);
  add(state.op?.fallbackRestore);
  return keep;
}

/**
 * The recorded savepoints the retention rule lets go, oldest first: all but the newest `maxCount`,
 * and those older than `maxAgeMs`; protected ones never.
 */
export function disposable(
  state: LifecycleState,
  retention: Retention | undefined,
  now: Date,
): SavepointInfo[] {
  if (!retention) return [];
  const keep = protectedLocations(state);
  const history = state.savepoints;
  const excess = Math.max(0, history.length - retention.maxCount);
  return history.filter((s, i) => {
    if (keep.has(s.location)) return false;
    if (i < excess) return true;
    return retention.maxAgeMs !== undefined && now.getTime() - Date.parse(s.time) > retention.maxAgeMs;
  });
}

/** Flink's answer when the savepoint to dispose is already gone: disposed before, nothing to do. */
const ALREADY_GONE =
  /FileNotFound|Cannot find (meta data|checkpoint or savepoint)|does not exist|No such file/i;

export function alreadyGone(message: string): boolean {
  return ALREADY_GONE.test(message);
}
