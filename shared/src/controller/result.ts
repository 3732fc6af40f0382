// The one reconcile shape of both agents (controller-runtime's Reconciler): a reconcile of one key
// returns what it did, and may ask to be run again later. An error is either worth retrying (the
// controller backs off) or terminal (nothing changes until something else does: no retry, reported).
import { KubeApiError, reasonOf } from "../kube/errors.ts";
import type { Logger } from "../log.ts";

export interface Result {
  /** A short word for logs and metrics: `applied`, `unchanged`, `refused`, `deleted`, `ignored`, … */
  outcome: string;
  /** Writes to the API server this reconcile made (a resync of settled state makes zero). */
  writes: number;
  /** Run this key again after this long (the earliest of several requests wins). */
  requeueAfterMs?: number | undefined;
}

export interface ReconcileContext {
  /** Aborts when the controller stops (leadership lost, shutdown). */
  signal: AbortSignal;
  /** A random id bound to every log line of this reconcile. */
  reconcileId: string;
  /** The controller's logger with the key and reconcile id bound. */
  logger: Logger;
  /** Consecutive failures of this key before this run (0 after a success). */
  failures: number;
}

/** Reconciles one key. Not-found is an outcome, not an exception. */
export type Reconcile = (key: string, ctx: ReconcileContext) => Promise<Result>;

/**
 * An error retrying cannot fix without a change elsewhere (a spec the API server rejects as
 * invalid, RBAC or admission that forbids the write). The controller does not retry it; the next
 * trigger for the key (a new spec, a watch event, a resync) reconciles again.
 */
export class TerminalError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
    this.reason = reason;
  }
}

/** A failure that is expected to clear on its own soon (e.g. a namespace still terminating). */
export class RetryableError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RetryableError";
    this.reason = reason;
  }
}

/**
 * True for errors the controller must not retry: TerminalError, and API answers saying the request
 * itself is wrong (400, 422). A 401/403 is retried with back-off: RBAC and tokens change without
 * any change to the desired state, and the operator expects the agent to notice.
 */
export function isTerminal(err: unknown): boolean {
  if (err instanceof TerminalError) return true;
  return err instanceof KubeApiError && (err.status === 400 || err.status === 422);
}

/** The short reason of a failure, for status, metrics and logs. */
export function failureReason(err: unknown): string {
  if (err instanceof TerminalError || err instanceof RetryableError) return err.reason;
  return reasonOf(err);
}
