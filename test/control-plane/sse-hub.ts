// The open SSE streams: writes events to them as soon as they happen (no buffering, Nagle off),
// sends keep-alive comments, and applies the stream faults (drop, cut mid-event, stall).
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { F, type Logger } from "@meridian/shared/log";
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from "@meridian/shared/protocol/index";
import type { StreamKind } from "./change-log.ts";
import { matchesFilter, type StreamFilter } from "./faults.ts";
import type { Signer } from "./signing.ts";

/** One SSE event as written on the wire. */
export interface SseEvent {
  id: string;
  type: string;
  /** Raw payload; each line becomes one `data:` line. */
  data: string;
}

/** What the admin API tells about an open stream. */
export interface StreamInfo {
  connectionId: string;
  stream: StreamKind;
  target: string;
  connectedAt: string;
  lastEventId: string | undefined;
}

interface Conn extends StreamInfo {
  res: ServerResponse;
  keepAlive: NodeJS.Timeout;
  pending: string[];
  closed: boolean;
}

/** The bytes of one event: `id:`, `event:`, one `data:` line per payload line, blank line. */
export function formatEvent(e: SseEvent): string {
  const data = e.data
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join("");
  return `id: ${e.id}\nevent: ${e.type}\n${data}\n`;
}

const KEEP_ALIVE = ": keep-alive\n\n";

export class SseHub {
  readonly #conns = new Set<Conn>();
  readonly #keepAliveMs: number;
  readonly #log: Logger;
  #cut: StreamFilter | undefined;
  #stall: { until: number; filter: StreamFilter; timer: NodeJS.Timeout } | undefined;

  readonly #signer: Signer | undefined;

  /** `signer`: signs every event as it is written (absent: events go out unsigned). */
  constructor(keepAliveMs: number, log: Logger, signer?: Signer) {
    this.#keepAliveMs = keepAliveMs;
    this.#log = log;
    this.#signer = signer;
  }

  /**
   * Answers `req` with an event stream and writes `initial` (a snapshot or a replay) before any
   * later event. Must be called in the same tick as reading `initial` from the store, so that no
   * change can fall between the two.
   */
  open(
    req: IncomingMessage,
    res: ServerResponse,
    stream: StreamKind,
    target: string,
    initial: SseEvent[],
  ): void {
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      connection: "keep-alive",
      [PROTOCOL_HEADER]: PROTOCOL_VERSION,
    });
    res.flushHeaders();
    const conn: Conn = {
      connectionId: randomUUID(),
      stream,
      target,
      connectedAt: new Date().toISOString(),
      lastEventId: undefined,
      res,
      pending: [],
      closed: false,
      keepAlive: setInterval(() => this.#write(conn, KEEP_ALIVE, false), this.#keepAliveMs),
    };
    conn.keepAlive.unref();
    this.#conns.add(conn);
    const log = this.#log.child({ [F.connectionId]: conn.connectionId, [F.kind]: stream, [F.name]: target });
    res.on("close", () => {
      conn.closed = true;
      clearInterval(conn.keepAlive);
      this.#conns.delete(conn);
      log.info({ [F.eventId]: conn.lastEventId }, "stream closed");
    });
    log.info({ [F.eventId]: initial.at(-1)?.id, events: initial.length }, "stream opened");
    for (const e of initial) this.#send(conn, e);
  }

  /** Writes one event to every open stream of `stream`/`target`. */
  publish(stream: StreamKind, target: string, event: SseEvent): number {
    let n = 0;
    for (const conn of this.#conns) {
      if (conn.stream === stream && conn.target === target) {
        this.#send(conn, event);
        n++;
      }
    }
    return n;
  }

  /** Ends matching streams cleanly (after everything already written), e.g. when a workspace is deleted. */
  end(filter: StreamFilter): void {
    for (const conn of this.#matching(filter)) if (conn.pending.length === 0) conn.res.end();
  }

  /** Destroys the sockets of matching streams at once; returns how many. */
  drop(filter: StreamFilter): number {
    const conns = this.#matching(filter);
    for (const conn of conns) conn.res.destroy();
    return conns.length;
  }

  /** Arms the cut-next-event fault. */
  cutNext(filter: StreamFilter): void {
    this.#cut = filter;
  }

  /** Holds every write to matching streams (including streams opened meanwhile) for `ms`. */
  stall(ms: number, filter: StreamFilter): void {
    this.#clearStall();
    const timer = setTimeout(() => this.#clearStall(), ms);
    timer.unref();
    this.#stall = { until: Date.now() + ms, filter, timer };
  }

  /** Cancels pending stream faults; held writes go out now. */
  clearFaults(): void {
    this.#cut = undefined;
    this.#clearStall();
  }

  list(): StreamInfo[] {
    return [...this.#conns].map(({ connectionId, stream, target, connectedAt, lastEventId }) => ({
      connectionId,
      stream,
      target,
      connectedAt,
      lastEventId,
    }));
  }

  /** Destroys every stream and stops every timer (server shutdown). */
  closeAll(): void {
    this.#cut = undefined;
    if (this.#stall) clearTimeout(this.#stall.timer);
    this.#stall = undefined;
    for (const conn of this.#conns) {
      clearInterval(conn.keepAlive);
      conn.res.destroy();
    }
    this.#conns.clear();
  }

  #matching(filter: StreamFilter): Conn[] {
    return [...this.#conns].filter((c) => matchesFilter(filter, c.stream, c.target));
  }

  #clearStall(): void {
    if (!this.#stall) return;
    clearTimeout(this.#stall.timer);
    this.#stall = undefined;
    for (const conn of this.#conns) {
      const held = conn.pending.splice(0);
      for (const chunk of held) this.#write(conn, chunk, true);
    }
  }

  #stalled(conn: Conn): boolean {
    return this.#stall !== undefined && matchesFilter(this.#stall.filter, conn.stream, conn.target);
  }

  #send(conn: Conn, e: SseEvent): void {
    conn.lastEventId = e.id;
    const data = this.#signer ? this.#signer.sign(conn.stream, conn.target, e.type, e.id, e.data) : e.data;
    this.#write(conn, formatEvent({ ...e, data }), true);
  }

  #write(conn: Conn, chunk: string, isEvent: boolean): void {
    if (conn.closed) return;
    if (this.#stalled(conn)) {
      if (isEvent) conn.pending.push(chunk);
      return;
    }
    if (isEvent && this.#cut && matchesFilter(this.#cut, conn.stream, conn.target)) {
      this.#cut = undefined;
      const bytes = Buffer.from(chunk, "utf8");
      const half = bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)));
      this.#log.warn({ [F.connectionId]: conn.connectionId }, "fault: cutting the stream mid-event");
      conn.closed = true;
      conn.res.write(half, () => conn.res.destroy());
      return;
    }
    conn.res.write(chunk);
  }
}
