// The change log: every workspace and deployment change, under one global, monotonically increasing
// sequence that becomes the SSE event id. Bounded: only the newest `limit` entries are kept, and
// `floor` remembers up to where entries were forgotten, so a resume is possible only from
// `floor <= lastEventId <= head`. Ids are increasing but not necessarily consecutive: injected
// events and log truncation use up a sequence number without logging anything.
import type { DatabaseSync, StatementSync } from "node:sqlite";

export type StreamKind = "agent" | "workspace";

/** One logged change: an event of one stream (agent stream of `target` agent, or of `target` workspace). */
export interface Change {
  seq: number;
  stream: StreamKind;
  target: string;
  type: string;
  /** The event's JSON payload, exactly as it is sent. */
  data: string;
}

export class ChangeLog {
  readonly #db: DatabaseSync;
  readonly #limit: number;
  readonly #statements = new Map<string, StatementSync>();
  /** Rows currently held, counted here so trimming never has to scan the table. */
  #count: number;

  constructor(db: DatabaseSync, limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new Error(`change log limit must be a positive integer, got ${limit}`);
    }
    this.#db = db;
    this.#limit = limit;
    this.#count = this.size();
  }

  /** Prepares each SQL statement once: preparing on every call dominated the write path. */
  #sql(sql: string): StatementSync {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /** The sequence of the newest change (0 when nothing ever changed). */
  head(): number {
    return this.#meta("head");
  }

  /** Every change after this sequence is still in the log. */
  floor(): number {
    return this.#meta("floor");
  }

  /** Appends one change with the next sequence; call inside the transaction that made the change. */
  append(stream: StreamKind, target: string, type: string, data: unknown): Change {
    const seq = this.head() + 1;
    const json = JSON.stringify(data);
    this.#sql("INSERT INTO changes (seq, stream, target, type, data, at) VALUES (?, ?, ?, ?, ?, ?)").run(
      seq,
      stream,
      target,
      type,
      json,
      new Date().toISOString(),
    );
    this.#count++;
    this.#setMeta("head", seq);
    this.#trim();
    return { seq, stream, target, type, data: json };
  }

  /** Uses up the next sequence number without logging anything (for injected events). */
  burn(): number {
    const seq = this.head() + 1;
    this.#setMeta("head", seq);
    return seq;
  }

  /**
   * Forgets every logged change. A sequence number is used up so that every event id handed out
   * before now falls below the floor: any resume from them gets a snapshot.
   */
  truncate(): void {
    this.#db.exec("DELETE FROM changes");
    this.#count = 0;
    this.#setMeta("floor", this.burn());
  }

  /**
   * The changes of one stream after `lastEventId`, oldest first, or undefined when a resume from
   * there is impossible (not a decimal sequence, older than the floor, or ahead of the head).
   */
  changesAfter(stream: StreamKind, target: string, lastEventId: string): Change[] | undefined {
    if (!/^\d{1,15}$/.test(lastEventId)) return undefined;
    const after = Number(lastEventId);
    if (after < this.floor() || after > this.head()) return undefined;
    const rows = this.#sql(
      "SELECT seq, stream, target, type, data FROM changes WHERE stream = ? AND target = ? AND seq > ? ORDER BY seq",
    ).all(stream, target, after);
    return rows.map((r) => ({
      seq: Number(r.seq),
      stream: r.stream as StreamKind,
      target: String(r.target),
      type: String(r.type),
      data: String(r.data),
    }));
  }

  /** Number of changes currently held. */
  size(): number {
    const row = this.#sql("SELECT count(*) AS n FROM changes").get();
    return Number(row?.n ?? 0);
  }

  /** Drops the oldest rows beyond the limit; walks only the excess, from the oldest end of the index. */
  #trim(): void {
    const excess = this.#count - this.#limit;
    if (excess <= 0) return;
    const cutoff = this.#sql("SELECT seq FROM changes ORDER BY seq LIMIT 1 OFFSET ?").get(excess - 1);
    if (!cutoff) return;
    const seq = Number(cutoff.seq);
    this.#sql("DELETE FROM changes WHERE seq <= ?").run(seq);
    this.#count -= excess;
    this.#setMeta("floor", Math.max(seq, this.floor()));
  }

  #meta(key: string): number {
    const row = this.#sql("SELECT value FROM meta WHERE key = ?").get(key);
    return Number(row?.value ?? 0);
  }

  #setMeta(key: string, value: number): void {
    this.#sql("UPDATE meta SET value = ? WHERE key = ?").run(value, key);
  }
}
