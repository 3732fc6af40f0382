// The one retry rhythm of both agents: capped exponential back-off with full jitter and a floor
// (AWS architecture blog, "Exponential Backoff and Jitter"), a stateful counter that starts over
// after a period of health, a jittered fixed period for what cannot succeed soon, and an abortable
// sleep. Every loop that retries (stream redials, status reports, watches, leader election, the
// controller's requeues, credential mints, pod recreation, savepoint retries) takes its delays here.

export interface BackoffPolicy {
  /** Ceiling of the first retry's delay (before jitter); it doubles per failure. */
  baseMs: number;
  /** Cap on any delay. */
  capMs: number;
  /** Floor on any delay, so full jitter never retries in a tight loop. Default 50 ms (at most capMs). */
  floorMs?: number;
}

export const DEFAULT_FLOOR_MS = 50;

/**
 * Delay before retry number `attempt` (0-based): uniform in [floor, min(cap, base·2^attempt)].
 * `random` (uniform in [0, 1)) is injectable for tests.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const floor = Math.min(policy.floorMs ?? DEFAULT_FLOOR_MS, policy.capMs);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt), 52));
  return Math.max(floor, Math.floor(random() * ceiling));
}

/** Throws a named error for a policy no delay can come from (non-positive base, cap below base). */
export function checkBackoffPolicy(policy: BackoffPolicy): void {
  const { baseMs, capMs, floorMs = DEFAULT_FLOOR_MS } = policy;
  if (!(baseMs > 0 && capMs >= baseMs && floorMs >= 0))
    throw new Error(
      `a back-off needs 0 < baseMs <= capMs and floorMs >= 0, got baseMs=${baseMs} capMs=${capMs} floorMs=${floorMs}; fix the back-off options`,
    );
}

export interface BackoffOptions extends Partial<BackoffPolicy> {
  /** Healthy this long → the next failure starts from the bottom again. Default 30 s. */
  resetAfterMs?: number;
  /** Uniform random in [0, 1); injectable for tests. */
  random?: () => number;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
}

/**
 * A failure counter with `backoffDelay`'s delays (defaults: 500 ms first ceiling, 30 s cap, 50 ms
 * floor). After the thing retried has been healthy for `resetAfterMs`, the next failure starts from
 * the bottom again, so one blip after a day of health does not inherit yesterday's long delays.
 */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #resetAfterMs: number;
  readonly #random: () => number;
  readonly #now: () => number;
  #attempt = 0;
  #healthySince: number | undefined;

  constructor(opts: BackoffOptions = {}) {
    this.#policy = {
      baseMs: opts.baseMs ?? 500,
      capMs: opts.capMs ?? 30_000,
      floorMs: opts.floorMs ?? DEFAULT_FLOOR_MS,
    };
    checkBackoffPolicy(this.#policy);
    this.#resetAfterMs = opts.resetAfterMs ?? 30_000;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? Date.now;
  }

  /** Number of consecutive failures counted so far. */
  get attempt(): number {
    return this.#attempt;
  }

  /**
   * The thing we retry works (a stream opened, a watch delivered). Health is measured from the
   * first such call after the last failure, so calling it on every success is right.
   */
  succeeded(): void {
    this.#healthySince ??= this.#now();
  }

  /** Delay before the next retry; counts one more failure. */
  next(): number {
    if (this.#healthySince !== undefined && this.#now() - this.#healthySince >= this.#resetAfterMs)
      this.#attempt = 0;
    this.#healthySince = undefined;
    return backoffDelay(this.#attempt++, this.#policy, this.#random);
  }

  /** Forget all failures (e.g. after a request that succeeded outright). */
  reset(): void {
    this.#attempt = 0;
    this.#healthySince = undefined;
  }
}

/**
 * `ms` spread uniformly over [ms·(1−below), ms·(1+above)], so a fleet of agents does not act in
 * step (leader-election retries, periodic re-checks).
 */
export function jittered(
  ms: number,
  below: number,
  above: number,
  random: () => number = Math.random,
): number {
  return Math.round(ms * (1 - below + (below + above) * random()));
}

/**
 * Delay for a failure that cannot succeed without a change elsewhere (403, version mismatch):
 * `baseMs` with ±20 % jitter.
 */
export function longBackoffMs(baseMs: number, random: () => number = Math.random): number {
  return jittered(baseMs, 0.2, 0.2, random);
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
