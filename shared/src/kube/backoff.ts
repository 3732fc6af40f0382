// Capped exponential backoff with full jitter, and an abortable sleep: the retry rhythm of every
// loop in the Kubernetes helpers (watch re-list, leader renewals, reconcile requeues).

export interface BackoffPolicy {
  /** First delay before jitter. */
  baseMs: number;
  /** Upper bound of any delay. */
  capMs: number;
}

/**
 * Delay before retry number `attempt` (0-based): uniform in [0, min(cap, base·2^attempt)].
 * `random` is injectable for tests.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. Never keeps the process alive. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener("abort", done, { once: true });
  });
}
