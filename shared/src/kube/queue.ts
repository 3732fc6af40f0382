// Bounded concurrency toward the API server, and one queue per key so that two changes to the
// same object never race (Pepr's core/queue.ts, controller-runtime's work queue).
import PQueue from "p-queue";

/** A global bound: at most `concurrency` tasks run at once, the rest wait in order. */
export function createLimiter(concurrency: number): PQueue {
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  return new PQueue({ concurrency });
}

export interface KeyedQueueOptions {
  /** At most this many keys run at once (each key runs one task at a time). Default unbounded. */
  concurrency?: number;
}

/**
 * One serial queue per key, with coalescing: while a run for a key is waiting (not yet
 * started), scheduling the same key again returns that waiting run instead of adding another —
 * it will read the latest state anyway. A run in progress is followed by at most one more.
 * `concurrency` bounds how many keys run at once. Idle keys are forgotten.
 */
export class KeyedQueue {
  readonly #global: PQueue;
  readonly #keys = new Map<string, { tail: Promise<void>; waiting?: Promise<void> }>();
  #closed = false;

  constructor(opts: KeyedQueueOptions = {}) {
    this.#global = new PQueue({ concurrency: opts.concurrency ?? Number.POSITIVE_INFINITY });
  }

  /** Runs `task` for `key` after the key's current run. Rejects only if the task throws. */
  schedule(key: string, task: () => Promise<void>): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let state = this.#keys.get(key);
    if (state?.waiting) return state.waiting;
    if (!state) {
      state = { tail: Promise.resolve() };
      this.#keys.set(key, state);
    }
    const s = state;
    const prev = s.tail;
    const run: Promise<void> = (async () => {
      await prev;
      await this.#global.add(async () => {
        if (s.waiting === run) s.waiting = undefined;
        if (!this.#closed) await task();
      });
    })();
    s.waiting = run;
    const tail = run.then(noop, noop);
    s.tail = tail;
    void tail.then(() => {
      if (s.tail === tail) this.#keys.delete(key);
    });
    return run;
  }

  /** Keys with a run in progress or waiting. */
  get size(): number {
    return this.#keys.size;
  }

  /** Resolves when no run is in progress or waiting. */
  async onIdle(): Promise<void> {
    while (this.#keys.size > 0) await Promise.all([...this.#keys.values()].map((s) => s.tail));
  }

  /** Runs not yet started become no-ops; runs in progress finish on their own. */
  close(): void {
    this.#closed = true;
  }
}

const noop = () => {};
