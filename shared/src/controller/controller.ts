// The one controller of both agents: a keyed queue (one run per key at a time, coalesced), a
// global bound on how many keys run at once, per-key timers (earliest wins), capped exponential
// back-off with full jitter on failure, no retry of terminal errors, a reconcile id per run, and
// one log line and one metrics observation per run. Reconcilers are plain functions (result.ts).
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type BackoffPolicy, backoffDelay } from "../backoff.ts";
import { KeyedQueue } from "../kube/queue.ts";
import { F, type Logger } from "../log.ts";
import { failureReason, isTerminal, type Reconcile, type Result } from "./result.ts";

/** What one run ended with, for metrics and status (`outcome` is `failed` or `terminal` on error). */
export interface RunRecord {
  key: string;
  outcome: string;
  writes: number;
  durationMs: number;
  error?: { reason: string; message: string; terminal: boolean } | undefined;
}

export interface ControllerOptions {
  reconcile: Reconcile;
  logger: Logger;
  /** The log field the key is bound to (`F.workspace`, `F.deployment`). */
  keyField: string;
  /** What the log line of a run says, e.g. "reconciled workspace". */
  message: string;
  /** How many keys run at once. Default 4. */
  concurrency?: number;
  /** Back-off of a failing key. Default 200 ms doubling to 30 s, full jitter. */
  backoff?: BackoffPolicy;
  /** Outcomes not worth a log line (e.g. `ignored`: nothing to do for the key). */
  quietOutcomes?: readonly string[];
  /** Called after every run (metrics, status). Never throws into the controller. */
  onRun?: (run: RunRecord) => void;
  random?: () => number;
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, capMs: 30_000 };
/** The floor of a retry delay, so full jitter never retries in a tight loop. */
const MIN_RETRY_MS = 50;
/** setTimeout's limit is ~24.8 days; a longer wait wakes once early and re-plans. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Controller {
  readonly #o: ControllerOptions;
  readonly #queue: KeyedQueue;
  readonly #timers = new Map<string, { at: number; handle: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #quiet: ReadonlySet<string>;
  #started = false;
  /** stop() was called: nothing new is queued or timed (runs in progress may still be draining). */
  #closing = false;

  constructor(opts: ControllerOptions) {
    this.#o = opts;
    this.#queue = new KeyedQueue({ concurrency: opts.concurrency ?? 4 });
    this.#quiet = new Set(opts.quietOutcomes ?? []);
  }

  /** Aborts when the controller stops; reconcilers pass it to every request. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  /**
   * Until start(), enqueue() only remembers nothing: a reconcile before every cache has listed
   * could take an existing object for a new one.
   */
  start(): void {
    this.#started = true;
  }

  /** Consecutive failures of `key` (0 when its last run succeeded). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Queues a run of `key` (coalesced with one already waiting). */
  enqueue(key: string): void {
    if (this.stopped || this.#closing || !this.#started) return;
    this.#queue.schedule(key, () => this.#run(key)).catch(() => {});
  }

  /** Runs `key` again after `ms`; an earlier request already pending wins. */
  enqueueAfter(key: string, ms: number): void {
    if (this.stopped || this.#closing) return;
    const delay = Math.min(Math.max(0, ms), MAX_TIMER_MS);
    const at = Date.now() + delay;
    const t = this.#timers.get(key);
    if (t && t.at <= at) return;
    if (t) clearTimeout(t.handle);
    const handle = setTimeout(() => {
      this.#timers.delete(key);
      this.enqueue(key);
    }, delay);
    handle.unref();
    this.#timers.set(key, { at, handle });
  }

  /** Forgets a key's timer and failure count (the key is gone). */
  forget(key: string): void {
    const t = this.#timers.get(key);
    if (t) clearTimeout(t.handle);
    this.#timers.delete(key);
    this.#failures.delete(key);
  }

  /** Resolves when no run is in progress or waiting. */
  async idle(): Promise<void> {
    await this.#queue.onIdle();
  }

  /**
   * Stops every timer, cancels runs not yet started, aborts runs in progress and waits for them to
   * end. With `drainMs`, runs in progress first get up to that long to finish unaborted (a leader
   * that gives up its Lease lets its last writes land before a standby starts writing).
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    this.#closing = true;
    for (const t of this.#timers.values()) clearTimeout(t.handle);
    this.#timers.clear();
    this.#queue.close();
    if (opts.drainMs !== undefined && !this.stopped) {
      const timer = new AbortController();
      await Promise.race([
        this.#queue.onIdle(),
        sleep(opts.drainMs, undefined, { signal: timer.signal }).catch(() => {}),
      ]);
      timer.abort();
    }
    this.#abort.abort();
    await this.#queue.onIdle();
  }

  async #run(key: string): Promise<void> {
    if (this.stopped) return;
    const { logger, keyField, reconcile } = this.#o;
    const reconcileId = randomBytes(4).toString("hex");
    const log = logger.child({ [keyField]: key, [F.reconcileId]: reconcileId });
    const failures = this.failures(key);
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    let result: Result;
    let error: RunRecord["error"];
    try {
      result = await reconcile(key, { signal: this.signal, reconcileId, logger: log, failures });
      this.#failures.delete(key);
      if (result.requeueAfterMs !== undefined) this.enqueueAfter(key, result.requeueAfterMs);
    } catch (err) {
      if (this.stopped) return;
      const terminal = isTerminal(err);
      const reason = failureReason(err);
      error = { reason, message: (err as Error)?.message ?? String(err), terminal };
      result = { outcome: terminal ? "terminal" : "failed", writes: 0 };
      // The run's own fields as well, so every run has one line with outcome, writes and duration.
      const run = { [F.outcome]: result.outcome, [F.writes]: 0, [F.durationMs]: elapsed() };
      if (terminal) {
        this.#failures.delete(key);
        log.warn(
          { err, [F.reason]: reason, ...run },
          "reconcile failed and cannot succeed without a change; not retrying",
        );
      } else {
        this.#failures.set(key, failures + 1);
        const delayMs =
          MIN_RETRY_MS + backoffDelay(failures, this.#o.backoff ?? DEFAULT_BACKOFF, this.#o.random);
        this.enqueueAfter(key, delayMs);
        log.warn(
          { err, [F.reason]: reason, [F.attempt]: failures + 1, [F.delayMs]: delayMs, ...run },
          "reconcile failed; retrying",
        );
      }
    }
    const durationMs = elapsed();
    if (!error && !this.#quiet.has(result.outcome))
      log.info(
        { [F.outcome]: result.outcome, [F.writes]: result.writes, [F.durationMs]: durationMs },
        this.#o.message,
      );
    try {
      this.#o.onRun?.({ key, outcome: result.outcome, writes: result.writes, durationMs, error });
    } catch (err) {
      log.error({ err }, "run observer failed");
    }
  }
}
