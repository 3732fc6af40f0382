// Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
// Jitter"): the n-th retry waits a uniform random time in [minMs, min(maxMs, initialMs * 2^n)].
// After a connection has been healthy for `resetAfterMs`, the next failure starts from the bottom
// again, so one blip after a day of health does not inherit yesterday's long delays.

export interface BackoffOptions {
  /** Ceiling of the first retry's delay. Default 500 ms. */
  initialMs?: number;
  /** Cap on any delay. Default 30 s. */
  maxMs?: number;
  /** Floor on any delay, so full jitter never produces a 0 ms spin. Default 50 ms. */
  minMs?: number;
  /** Healthy this long → the attempt counter resets. Default 30 s. */
  resetAfterMs?: number;
  /** Uniform random in [0, 1); injectable for tests. */
  random?: () => number;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #minMs: number;
  readonly #resetAfterMs: number;
  readonly #random: () => number;
  readonly #now: () => number;
  #attempt = 0;
  #healthySince: number | undefined;

  constructor(opts: BackoffOptions = {}) {
    this.#initialMs = opts.initialMs ?? 500;
    this.#maxMs = opts.maxMs ?? 30_000;
    this.#minMs = Math.min(opts.minMs ?? 50, this.#maxMs);
    this.#resetAfterMs = opts.resetAfterMs ?? 30_000;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? Date.now;
    if (!(this.#initialMs > 0 && this.#maxMs >= this.#initialMs))
      throw new Error(
        `backoff needs 0 < initialMs <= maxMs, got initialMs=${this.#initialMs} maxMs=${this.#maxMs}`,
      );
  }

  /** Number of consecutive failures counted so far. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The thing we retry is working now (e.g. the stream is open); health is measured from here. */
  succeeded(): void {
    this.#healthySince = this.#now();
  }

  /** Delay before the next retry; counts one more failure. */
  next(): number {
    if (this.#healthySince !== undefined && this.#now() - this.#healthySince >= this.#resetAfterMs)
      this.#attempt = 0;
    this.#healthySince = undefined;
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 52));
    this.#attempt++;
    return Math.max(this.#minMs, Math.floor(this.#random() * ceiling));
  }

  /** Forget all failures (e.g. after a request that succeeded outright). */
  reset(): void {
    this.#attempt = 0;
    this.#healthySince = undefined;
  }
}

/**
 * Delay for a failure that cannot succeed without a change elsewhere (403, version mismatch):
 * `baseMs` with ±20 % jitter so a fleet of agents does not knock in step.
 */
export function longBackoffMs(baseMs: number, random: () => number = Math.random): number {
  return Math.round(baseMs * (0.8 + 0.4 * random()));
}
