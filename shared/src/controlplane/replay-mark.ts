// The newest accepted event of a signed stream, kept across restarts (docs/decisions.md 46). The
// verifier (verify.ts) refuses a validly signed event older than the newest it accepted; held in
// memory only, a restarted agent would accept one old snapshot of the current epoch, which could
// orphan what it does not list and re-create what was deleted since. So each process keeps the mark
// (stream, epoch, id) on an object it already owns (the agent: an annotation on its credential
// Secret; a workspace agent: a ConfigMap of its own) and the stream reads it back before its first
// dial. `MarkGate` writes it before an event that a replay could undo is acted on: a snapshot, a
// delete, a spec for an object not held (a creation) or a newer epoch. Specs of objects already held
// are protected by the persisted generation (decision 23) and cost no write.
import { Backoff, sleep } from "../backoff.ts";
import { F, type Logger } from "../log.ts";

/** The newest event accepted on `stream`: its control-plane epoch (0: none named) and its id. */
export interface ReplayMark {
  stream: string;
  epoch: number;
  id: bigint;
}

/** Where a process keeps its mark. */
export interface ReplayMarkStore {
  /** The stored mark; undefined when none was stored. Throws when it cannot be read (retried). */
  load(signal?: AbortSignal): Promise<ReplayMark | undefined>;
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

export interface MarkGateOptions {
  /** Undefined: nothing is verified (no key pinned), so nothing is kept and every step runs at once. */
  store: ReplayMarkStore | undefined;
  /** The stream's newest accepted mark now (StreamClient.acceptedMark). */
  newest(): ReplayMark | undefined;
  /** The mark the stream read back at its start (StreamClient.loadedMark): already stored. */
  stored(): ReplayMark | undefined;
  signal: AbortSignal;
  logger: Logger;
}

/**
 * Runs the inbound steps of one stream in arrival order; a step that needs the mark stored (`durable`)
 * runs only once the stream's newest accepted mark is. Steps that arrive while a write is in flight
 * wait for it and are covered, if they need it, by the next one: one write per batch, none for
 * specs of objects already held. A failed write is retried with back-off until it succeeds or the
 * signal aborts; meanwhile nothing of the stream is applied (applying needs the API server anyway).
 */
export class MarkGate {
  readonly #o: MarkGateOptions;
  #queue: { durable: boolean; run: () => void }[] = [];
  #pumping = false;
  #saved: ReplayMark | undefined;
  /** Stored marks (tests, and the write count the decision promises). */
  writes = 0;

  constructor(o: MarkGateOptions) {
    this.#o = o;
  }

  submit(durable: boolean, run: () => void): void {
    if (!this.#o.store || (!this.#pumping && this.#queue.length === 0 && !this.#needsWrite(durable))) {
      run();
      return;
    }
    this.#queue.push({ durable, run });
    if (!this.#pumping) void this.#pump();
  }

  /** A write is due: the step asks for it, or the stream moved into an epoch newer than the stored one. */
  #needsWrite(durable: boolean): boolean {
    const newest = this.#o.newest();
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
        const mark = this.#o.newest();
        if (mark && batch.some((s) => this.#needsWrite(s.durable))) await this.#save(mark);
        if (this.#o.signal.aborted) return;
        for (const step of batch) step.run();
      }
    } finally {
      this.#pumping = false;
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
