// The newest accepted event of a signed stream, kept across restarts (docs/decisions.md 46). The
// verifier (verify.ts) refuses a validly signed event older than the newest it accepted; held in
// memory only, a restarted agent would accept one old snapshot of the current epoch, which could
// orphan what it does not list and re-create what was deleted since. So each process keeps the mark
// (stream, epoch, id) on an object it already owns (the agent: an annotation on its credential
// Secret; a workspace agent: a ConfigMap of its own) and the stream reads it back before its first
// dial. `MarkGate` writes it before an event that a replay could undo is acted on: a snapshot, a
// delete or a newer epoch. Specs of objects already held are protected by the persisted generation
// (decision 23) and cost no write; so is a creation where the created object carries the mark of the
// event that created it (ANNOTATION_STREAM_MARK, read back by the store with its own mark).
import { MAX_HELD_STREAM_EVENTS } from "@meridian/shared/protocol/limits";
import { Backoff, sleep } from "../backoff.ts";
import { F, type Logger } from "../log.ts";

/** The newest event accepted on `stream`: its control-plane epoch (0: none named) and its id. */
export interface ReplayMark {
  stream: string;
  epoch: number;
  id: bigint;
}

/**
 * The annotation that carries a mark (`markText`): on the agent's credential Secret, and on each
 * Flink deployment's ConfigMap, the mark of the event that created the deployment (decision 50).
 */
export const ANNOTATION_STREAM_MARK = "meridian.dev/stream-mark";

/** Where a process keeps its mark. */
export interface ReplayMarkStore {
  /**
   * The newest stored mark (of `stream`, when the store keeps marks of more than one); undefined
   * when none was stored. Throws when it cannot be read (retried).
   */
  load(signal?: AbortSignal, stream?: string): Promise<ReplayMark | undefined>;
  save(mark: ReplayMark, signal?: AbortSignal): Promise<void>;
  /** `kind namespace/name`, for messages. */
  readonly where: string;
}

/** The mark as stored text: `{"stream":…,"epoch":…,"id":"…"}`. */
export function markText(m: ReplayMark): string {
  return JSON.stringify({ stream: m.stream, epoch: m.epoch, id: m.id.toString() });
}

/** The mark in `text`, or undefined when there is none or it cannot be read (an edited value). */
export function parseMark(text: string | undefined): ReplayMark | undefined {
  if (!text) return undefined;
  try {
    const o = JSON.parse(text) as { stream?: unknown; epoch?: unknown; id?: unknown };
    if (typeof o.stream !== "string" || !Number.isSafeInteger(o.epoch) || (o.epoch as number) < 0) return;
    if (typeof o.id !== "string" || !/^\d{1,40}$/.test(o.id)) return undefined;
    return { stream: o.stream, epoch: o.epoch as number, id: BigInt(o.id) };
  } catch {
    return undefined;
  }
}

/** a is at or after b (undefined b: nothing to be after). */
export function markCovers(
  a: Omit<ReplayMark, "stream">,
  b: Omit<ReplayMark, "stream"> | undefined,
): boolean {
  return !b || a.epoch > b.epoch || (a.epoch === b.epoch && a.id >= b.id);
}

/** The newest of `marks` (of `stream` only, when given), or undefined. */
export function newestMark(marks: (ReplayMark | undefined)[], stream?: string): ReplayMark | undefined {
  let newest: ReplayMark | undefined;
  for (const m of marks)
    if (m && (stream === undefined || m.stream === stream) && !(newest && markCovers(newest, m))) newest = m;
  return newest;
}

export interface MarkGateOptions {
  /** Undefined: nothing is verified (no key pinned), so nothing is kept and every step runs at once. */
  store: ReplayMarkStore | undefined;
  /** The stream's newest accepted mark now (StreamClient.acceptedMark). */
  newest(): ReplayMark | undefined;
  /** The mark the stream read back at its start (StreamClient.loadedMark): already stored. */
  stored(): ReplayMark | undefined;
  signal: AbortSignal;
  logger: Logger;
  /**
   * More than `maxHeld` steps wait for a write: the newer ones are dropped and the stream must
   * resume after `at`, the last step held (StreamClient.resumeAfter), so that they come again.
   */
  resumeAfter?(at: ReplayMark, reason: string): void;
  /** Default MAX_HELD_STREAM_EVENTS. */
  maxHeld?: number;
}

/**
 * Runs the inbound steps of one stream in arrival order; a step that needs the mark stored (`durable`)
 * runs only once the stream's newest accepted mark is. Steps that arrive while a write is in flight
 * wait for it and are covered, if they need it, by the next one: one write per batch, none for
 * specs of objects already held. A failed write is retried with back-off until it succeeds or the
 * signal aborts; meanwhile nothing of the stream is applied (applying needs the API server anyway).
 * At most `maxHeld` steps wait (the batch being written included): a step beyond is dropped and the
 * stream is told to resume after the last one held, so it comes again after a redial.
 */
export class MarkGate {
  readonly #o: MarkGateOptions;
  #queue: { durable: boolean; run: () => void; at: ReplayMark | undefined }[] = [];
  /** Steps of the batch being written (held too). */
  #inFlight = 0;
  /** The mark of the newest step held; the stream resumes after it when one more is dropped. */
  #lastHeld: ReplayMark | undefined;
  #overflowLogged = false;
  #pumping = false;
  #saved: ReplayMark | undefined;
  /** Stored marks (tests, and the write count the decision promises). */
  writes = 0;
  /** Steps dropped because `maxHeld` were waiting (they come again after the stream resumes). */
  dropped = 0;

  constructor(o: MarkGateOptions) {
    this.#o = o;
  }

  submit(durable: boolean, run: () => void): void {
    if (!this.#o.store || (!this.#pumping && this.#queue.length === 0 && !this.#needsWrite(durable))) {
      run();
      return;
    }
    const at = this.#o.newest();
    const max = this.#o.maxHeld ?? MAX_HELD_STREAM_EVENTS;
    const resume = this.#o.resumeAfter;
    if (resume && this.#lastHeld && this.#queue.length + this.#inFlight >= max) {
      this.#drop(resume, this.#lastHeld, max);
      return;
    }
    this.#queue.push({ durable, run, at });
    this.#lastHeld = at;
    if (!this.#pumping) void this.#pump();
  }

  #drop(resume: NonNullable<MarkGateOptions["resumeAfter"]>, at: ReplayMark, max: number): void {
    this.dropped++;
    const reason = `${max} stream events wait for the newest accepted event to be stored in ${this.#o.store?.where}; the stream resumes after event ${at.id} once redialled`;
    if (!this.#overflowLogged)
      this.#o.logger.warn({ [F.reason]: reason }, "too many stream events held; redialling the stream");
    this.#overflowLogged = true;
    resume(at, reason);
  }

  /** A write is due: the step asks for it, or the stream moved into an epoch newer than the stored one. */
  #needsWrite(durable: boolean, newest = this.#o.newest()): boolean {
    const saved = this.#saved ?? this.#o.stored();
    if (!newest || markCovers(saved ?? { epoch: -1, id: -1n }, newest)) return false;
    return durable || newest.epoch > (saved?.epoch ?? 0);
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#o.signal.aborted) {
        // Every step taken here was accepted already: the newest mark now covers them all.
        const batch = this.#queue.splice(0);
        this.#inFlight = batch.length;
        // The batch's own newest step, not the stream's: steps dropped since are not covered.
        const mark = batch.at(-1)?.at ?? this.#o.newest();
        if (mark && batch.some((s) => this.#needsWrite(s.durable, mark))) await this.#save(mark);
        if (this.#o.signal.aborted) return;
        this.#inFlight = 0;
        for (const step of batch) step.run();
      }
      if (this.#queue.length === 0) this.#overflowLogged = false;
    } finally {
      this.#pumping = false;
      this.#inFlight = 0;
    }
  }

  async #save(mark: ReplayMark): Promise<void> {
    const store = this.#o.store as ReplayMarkStore;
    const backoff = new Backoff();
    while (!this.#o.signal.aborted) {
      try {
        await store.save(mark, this.#o.signal);
        this.#saved = mark;
        this.writes++;
        return;
      } catch (err) {
        if (this.#o.signal.aborted) return;
        const delayMs = backoff.next();
        this.#o.logger.warn(
          { [F.err]: err, [F.delayMs]: delayMs },
          `cannot store the newest accepted event in ${store.where}; nothing of the stream is applied until it is (retrying)`,
        );
        await sleep(delayMs, this.#o.signal);
      }
    }
  }
}
