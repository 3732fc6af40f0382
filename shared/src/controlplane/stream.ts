// The stream client: keeps one SSE connection to the control plane open for as long as it runs,
// validates every event on arrival, and tells subscribers what happened through typed events.
// Redialling is ours (EventSource gives up on any non-200): classified, backed off, never hot.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "@meridian/shared/log";
import { silentLogger } from "@meridian/shared/log";
import {
  agentEvents,
  type EventOf,
  jsonTextError,
  MAX_EVENT_ID_LENGTH,
  type ParseResult,
  parseEvent,
  paths,
  type RefusedItem,
  type RejectedEvents,
  showEventType,
  workspaceEvents,
} from "@meridian/shared/protocol/index";
import { Backoff, type BackoffOptions, longBackoffMs } from "../backoff.ts";
import { Connection } from "./connection.ts";
import { classify, type FailureKind } from "./errors.ts";
import { type Endpoint, endpointUrl } from "./http.ts";
import type { ReplayMark, ReplayMarkStore } from "./replay-mark.ts";
import type { DeltaOf, EventMap, SnapshotOf, StreamClientEvents } from "./stream-events.ts";
import { logStreamEvents } from "./stream-log.ts";
import { EventVerifier, type PinnedKeys, type SignatureRefusal } from "./verify.ts";

export interface StreamClientOptions<M extends EventMap> {
  endpoint: Endpoint;
  /** Path of the stream, e.g. `paths.agentStream(agentId)`. */
  path: string;
  /** `agentEvents` or `workspaceEvents`. */
  events: M;
  /** Tear down and redial after this long without a byte. Default 15 s (3 × the 5 s keep-alive). */
  staleAfterMs?: number;
  /** Normal redial backoff (defaults: 500 ms first ceiling, 30 s cap, reset after 30 s connected). */
  backoff?: BackoffOptions;
  /** Delay between attempts after a 403 / version mismatch. Default 5 min (±20 % jitter). */
  fatalBackoffMs?: number;
  /** Delay before the one quick retry after a first 401 and a credential refresh. Default 100 ms. */
  quickRetryMs?: number;
  /** Resume from here on the first dial (e.g. persisted); default: ask for a snapshot. */
  lastEventId?: string;
  /** Lines for connected/disconnected/rejected/fatal; default silent. */
  logger?: Logger;
  random?: () => number;
  /**
   * The control plane's pinned public keys: when given (and not empty), every event must be signed
   * by one of them and newer than the last accepted, or it is refused before it is parsed
   * (verify.ts). Absent: events are not verified (no key pinned; docs/decisions.md 41).
   */
  signingKeys?: PinnedKeys;
  /**
   * Where the newest accepted event survives a restart (replay-mark.ts): read before the first dial
   * (retried like a dial) so that older events stay refused. Only with `signingKeys`.
   */
  replayMarks?: ReplayMarkStore;
}

/**
 * Last-Event-ID policy: it advances past every event whose id is a decimal string after the last
 * one — delivered or rejected for its content — so a poison event is not replayed forever on resume;
 * the rejection is counted in `rejectedEvents` and reported upward in status. An event with no id, a
 * non-decimal id, or (for deltas) an id not after the last one is rejected and does not advance it.
 * A snapshot may carry any well-formed id: it restarts the sequence.
 */
export class StreamClient<M extends EventMap> extends EventEmitter<StreamClientEvents<M>> {
  readonly #o: Required<Pick<StreamClientOptions<M>, "staleAfterMs" | "fatalBackoffMs" | "quickRetryMs">> &
    StreamClientOptions<M>;
  readonly #backoff: Backoff;
  readonly #random: () => number;
  #lastEventId: string | undefined;
  #rejected: RejectedEvents = { count: 0 };
  #running = false;
  /** Bumped by stop(): a dial that was awaiting a token when it happened must not connect. */
  #epoch = 0;
  #conn: Connection | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unauthorizedStreak = 0;
  #refreshBeforeDial = false;
  /** The token the last 401 answered, handed to the refresh before the next dial. */
  #refusedToken: string | undefined;
  #connectionId = "";
  readonly #verifier: EventVerifier | undefined;
  /** The mark read back before the first dial (undefined: none stored, or not read yet). */
  #loadedMark: ReplayMark | undefined;
  #markRead = false;

  constructor(opts: StreamClientOptions<M>) {
    super();
    this.#o = { staleAfterMs: 15_000, fatalBackoffMs: 300_000, quickRetryMs: 100, ...opts };
    this.#random = opts.random ?? Math.random;
    this.#verifier = opts.signingKeys?.size ? new EventVerifier(opts.signingKeys, opts.path) : undefined;
    this.#backoff = new Backoff({ random: this.#random, ...opts.backoff });
    this.#lastEventId = opts.lastEventId;
    if (opts.logger) logStreamEvents(this, opts.logger);
  }

  /** Id of the last event processed (delivered or rejected-with-valid-id); sent as Last-Event-ID. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** Counter and last rejection, in the shape of the protocol's `rejectedEvents` status field. */
  get rejectedEvents(): RejectedEvents {
    return structuredClone(this.#rejected);
  }

  /** The newest event accepted on this stream (signed streams only): what replay-mark.ts stores. */
  get acceptedMark(): ReplayMark | undefined {
    const n = this.#verifier?.newest;
    return n && { stream: this.#o.path, ...n };
  }

  /** The mark read back from its store before the first dial. */
  get loadedMark(): ReplayMark | undefined {
    return this.#loadedMark;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#dial();
  }

  /**
   * A new credential is there: if the stream waits to redial after a 401, it dials now instead of at
   * the end of its back-off (the refused credential has been replaced; the next dial may succeed).
   */
  credentialChanged(): void {
    if (!this.#running || this.#conn || !this.#refreshBeforeDial || !this.#timer) return;
    clearTimeout(this.#timer);
    void this.#dial();
  }

  /**
   * Events after `at` were accepted but not kept (MarkGate held too many): the stream forgets them
   * (its Last-Event-ID and the verifier's newest go back to `at`) and redials with its normal back-off,
   * so the control plane sends them again. Nothing else of the connection is read.
   */
  resumeAfter(at: ReplayMark, reason: string): void {
    if (at.stream !== this.#o.path) return;
    this.#lastEventId = at.id.toString();
    this.#verifier?.rewind({ epoch: at.epoch, id: at.id });
    const conn = this.#conn;
    if (!conn || !this.#running) return;
    this.#conn = undefined;
    conn.close();
    this.#afterEnd(conn.id, new Error(reason), { kind: "retry", reason });
  }

  /** Stops redialling and closes the connection; resolves once the request has let go. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#epoch++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    if (!conn) return;
    conn.close();
    await conn.settled;
  }

  async #dial(): Promise<void> {
    this.#timer = undefined;
    const epoch = this.#epoch;
    const connectionId = randomBytes(4).toString("hex");
    const marks = this.#verifier && !this.#markRead ? this.#o.replayMarks : undefined;
    if (marks)
      try {
        const mark = await marks.load(undefined, this.#o.path);
        if (mark?.stream === this.#o.path) this.#verifier?.remember({ epoch: mark.epoch, id: mark.id });
        this.#loadedMark = mark?.stream === this.#o.path ? mark : undefined;
        this.#markRead = true;
      } catch (cause) {
        if (!this.#running || epoch !== this.#epoch) return;
        const err = new Error(
          `could not read the newest accepted event from ${marks.where}, which older events are refused against; will retry before dialling`,
          { cause },
        );
        this.#afterEnd(connectionId, err, { kind: "retry", reason: err.message });
        return;
      }
    let token: string;
    try {
      if (this.#refreshBeforeDial) await this.#o.endpoint.tokens.refresh?.(this.#refusedToken);
      this.#refreshBeforeDial = false;
      this.#refusedToken = undefined;
      token = await this.#o.endpoint.tokens.token();
    } catch (cause) {
      if (!this.#running || epoch !== this.#epoch) return;
      const err = new Error("could not obtain a credential for the stream; will retry", { cause });
      this.#refreshBeforeDial = false;
      this.#afterEnd(connectionId, err, { kind: "retry", reason: err.message });
      return;
    }
    if (!this.#running || epoch !== this.#epoch) return;
    const resumeFrom = this.#lastEventId;
    this.#connectionId = connectionId;
    this.#conn = new Connection(
      {
        id: connectionId,
        url: endpointUrl(this.#o.endpoint, this.#o.path),
        dispatcher: this.#o.endpoint.dispatcher,
        token,
        lastEventId: resumeFrom,
        staleAfterMs: this.#o.staleAfterMs,
      },
      {
        onOpen: () => {
          this.#backoff.succeeded();
          this.#unauthorizedStreak = 0;
          this.emit("connected", { connectionId, resumeFrom });
        },
        onMessage: (type, id, data) => this.#onMessage(connectionId, type, id, data),
        onRefused: (type, id, reason) => this.#onRefused(connectionId, type, id, reason),
        onEnd: (cause) => {
          this.#conn = undefined;
          const c = classify(cause);
          if (c.kind === "refresh-credential") this.#refusedToken = token;
          if (this.#running) this.#afterEnd(connectionId, cause, c);
        },
      },
    );
  }

  #afterEnd(connectionId: string, cause: Error, c: { kind: FailureKind; reason: string }): void {
    let retryInMs: number;
    if (c.kind === "fatal-backoff-long") {
      retryInMs = longBackoffMs(this.#o.fatalBackoffMs, this.#random);
    } else if (c.kind === "refresh-credential") {
      this.#unauthorizedStreak++;
      this.#refreshBeforeDial = true;
      retryInMs = this.#unauthorizedStreak === 1 ? this.#o.quickRetryMs : this.#backoff.next();
    } else {
      this.#unauthorizedStreak = 0;
      retryInMs = this.#backoff.next();
    }
    this.#timer = setTimeout(() => void this.#dial(), retryInMs);
    this.#safeEmit("disconnected", { connectionId, cause, kind: c.kind, reason: c.reason, retryInMs });
    if (c.kind === "fatal-backoff-long")
      this.#safeEmit("fatal", { connectionId, reason: c.reason, retryInMs });
  }

  #onMessage(connectionId: string, type: string, id: string | undefined, data: string): void {
    const idError = this.#checkId(type, id);
    if (idError) {
      this.#reject(connectionId, type, id, idError);
      return;
    }
    // Nesting past the limit, or a key given twice: refused before anything parses the text.
    const textError = jsonTextError(data);
    if (textError) {
      this.#lastEventId = id;
      this.#reject(connectionId, type, id, `event ${showEventType(type)} is refused: ${textError}`);
      return;
    }
    // Signed desired state: checked before anything reads the data as a spec.
    const verdict = this.#verify(type, id as string, data);
    if (verdict && !verdict.ok) {
      // The id to resume from stays where it was: what the control plane really sent under that id
      // comes again on the next redial (a replay must not move it either).
      this.#reject(connectionId, type, id, verdict.refusal.message, verdict.refusal);
      return;
    }
    const parsed: ParseResult<EventOf<M>> = parseEvent(this.#o.events, type, id, data);
    this.#lastEventId = id;
    if (!parsed.ok) {
      this.#reject(connectionId, type, id, parsed.error);
      return;
    }
    if (parsed.event.type === "snapshot") {
      if (verdict?.items.length) refuseItems(parsed.event.data as SnapshotData, verdict.items);
      // Items refused inside a snapshot are rejections too; the rest of the snapshot applies.
      const refused = (parsed.event.data as { refused?: RefusedItem[] }).refused ?? [];
      for (const item of refused) {
        const { reason, key, generation, index, error: message } = item;
        this.#reject(connectionId, type, id, message, reason && { reason, message, key, generation, index });
      }
      this.#safeEmit("snapshot", { connectionId, event: parsed.event as SnapshotOf<M> });
    } else this.#safeEmit("event", { connectionId, event: parsed.event as DeltaOf<M> });
  }

  /** The verifier's verdict on data that is JSON (the schema reports what is not); undefined: not verified. */
  #verify(type: string, id: string, data: string): ReturnType<EventVerifier["check"]> | undefined {
    if (!this.#verifier || !Object.hasOwn(this.#o.events, type)) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return undefined;
    }
    return this.#verifier.check(type, id, json);
  }

  /** An event over its size limit, skipped unread: refused, and its id (if good) is passed. */
  #onRefused(connectionId: string, type: string, id: string | undefined, reason: string): void {
    if (!this.#checkId(type, id)) this.#lastEventId = id;
    this.#reject(connectionId, type, id, reason);
  }

  #checkId(type: string, id: string | undefined): string | undefined {
    if (id === undefined) return `event ${showEventType(type)} carries no new id`;
    if (!/^\d{1,40}$/.test(id))
      return `event ${showEventType(type)} has id ${JSON.stringify(id.slice(0, 40))}, not a decimal number`;
    const last = this.#lastEventId;
    if (type !== "snapshot" && last !== undefined && /^\d+$/.test(last) && !(BigInt(id) > BigInt(last)))
      return `event ${showEventType(type)} has id ${id}, not after the last event id ${last}`;
    return undefined;
  }

  /**
   * Counts an event (or one item of it) that the subscriber refused after validation, e.g. a spec
   * older than the generation the agent holds, so `rejectedEvents` reports it upward.
   */
  refuse(type: string, id: string | undefined, error: string): void {
    this.#reject(this.#connectionId, type, id, error);
  }

  #reject(
    connectionId: string,
    type: string,
    id: string | undefined,
    error: string,
    signature?: SignatureRefusal,
  ): void {
    this.#rejected = {
      count: this.#rejected.count + 1,
      last: {
        ...(id === undefined ? {} : { eventId: id.slice(0, MAX_EVENT_ID_LENGTH) }),
        eventType: type.slice(0, 100),
        error,
        at: new Date().toISOString(),
      },
    };
    this.#safeEmit("rejected", { connectionId, type, id, error, ...(signature ? { signature } : {}) });
  }

  /** A throwing subscriber must not break the stream (it runs inside the body reader). */
  #safeEmit<K extends keyof StreamClientEvents<M>>(
    name: K,
    ...args: StreamClientEvents<M>[K] extends unknown[] ? StreamClientEvents<M>[K] : never
  ): void {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's generic emit signature
      (this.emit as any)(name, ...args);
    } catch (err) {
      (this.#o.logger ?? silentLogger()).error({ err, eventType: String(name) }, "stream subscriber threw");
    }
  }
}

type SnapshotData = Record<string, unknown> & { refused: RefusedItem[] };

/**
 * Moves the snapshot items whose signature was refused from its accepted list to `refused`, with
 * their reasons; an item refused by the schema too is refused once, for its signature. Items are
 * matched by position: the accepted ones are, in order, those the schema did not refuse.
 */
function refuseItems(data: SnapshotData, refusals: readonly SignatureRefusal[]): void {
  const field = Array.isArray(data.workspaces) ? "workspaces" : "deployments";
  const accepted = data[field] as unknown[];
  const bySchema = new Set(data.refused.map((r) => r.index));
  const bySignature = new Set(refusals.map((r) => r.index));
  const positions: number[] = [];
  for (let i = 0; positions.length < accepted.length; i++) if (!bySchema.has(i)) positions.push(i);
  data[field] = accepted.filter((_, j) => !bySignature.has(positions[j]));
  const signed = refusals.map((r) => ({
    index: r.index ?? -1,
    key: r.key,
    generation: r.generation,
    error: r.message,
    reason: r.reason,
  }));
  data.refused = [...data.refused.filter((r) => !bySignature.has(r.index)), ...signed];
}

type AgentStreamOptions = Omit<StreamClientOptions<typeof agentEvents>, "endpoint" | "path" | "events">;
type WorkspaceStreamOptions = Omit<
  StreamClientOptions<typeof workspaceEvents>,
  "endpoint" | "path" | "events"
>;

/** The agent's stream: `snapshot`, `workspace.upsert`, `workspace.delete`. */
export function agentStream(
  endpoint: Endpoint,
  agentId: string,
  opts: AgentStreamOptions = {},
): StreamClient<typeof agentEvents> {
  return new StreamClient({ ...opts, endpoint, path: paths.agentStream(agentId), events: agentEvents });
}

/** A workspace agent's stream: `snapshot`, `deployment.upsert`, `deployment.delete`. */
export function workspaceStream(
  endpoint: Endpoint,
  workspaceId: string,
  opts: WorkspaceStreamOptions = {},
): StreamClient<typeof workspaceEvents> {
  return new StreamClient({
    ...opts,
    endpoint,
    path: paths.workspaceStream(workspaceId),
    events: workspaceEvents,
  });
}
