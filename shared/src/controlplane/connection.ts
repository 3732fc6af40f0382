// One SSE connection and everything it started: an AbortController, an EventSource whose fetch is
// ours (undici + dispatcher + auth + protocol headers + Last-Event-ID), a body wrapper that
// timestamps every chunk (keep-alive comments included, which EventSource never surfaces), and the
// watchdog that tears the connection down when nothing arrived for `staleAfterMs`. It never redials:
// it ends exactly once, reports why through `onEnd`, and the StreamClient decides what next.
import { PROTOCOL_HEADER } from "@meridian/shared/protocol/index";
import { EventSource, type FetchLikeResponse } from "eventsource";
import { type Dispatcher, fetch } from "undici";
import { errorFromResponse, ProtocolError } from "./errors.ts";
import { checkProtocolVersion, protocolHeaders } from "./http.ts";

export interface ConnectionOptions {
  id: string;
  url: string;
  dispatcher: Dispatcher;
  token: string;
  /** Sent as `Last-Event-ID` so the server can resume; undefined asks for a snapshot. */
  lastEventId: string | undefined;
  /** No byte for this long (dial included) → the connection is torn down. */
  staleAfterMs: number;
  now?: () => number;
}

export interface ConnectionHandlers {
  onOpen(): void;
  /** `esLastEventId` is EventSource's running last-event-id (unchanged when the event had no id). */
  onMessage(type: string, esLastEventId: string, data: string): void;
  /** Called exactly once, whatever ended the connection (except `close()` by the owner). */
  onEnd(cause: Error): void;
}

/** EventSource that hands every dispatched event (any type, known or not) to one sink. */
class SinkEventSource extends EventSource {
  sink: ((ev: Event) => void) | undefined;
  override dispatchEvent(ev: Event): boolean {
    this.sink?.(ev);
    return true;
  }
}

export class Connection {
  readonly id: string;
  readonly #opts: ConnectionOptions;
  readonly #handlers: ConnectionHandlers;
  readonly #abort = new AbortController();
  readonly #now: () => number;
  readonly #es: SinkEventSource;
  readonly #watchdog: ReturnType<typeof setInterval>;
  readonly #settled: Promise<void>;
  #settle!: () => void;
  #lastByteAt: number;
  #failure: Error | undefined;
  #ended = false;
  /** Fetches and body reads in progress; `settled` resolves when this is 0 after the end. */
  #busy = 0;

  constructor(opts: ConnectionOptions, handlers: ConnectionHandlers) {
    this.id = opts.id;
    this.#opts = opts;
    this.#handlers = handlers;
    this.#now = opts.now ?? Date.now;
    this.#lastByteAt = this.#now();
    this.#settled = new Promise((resolve) => {
      this.#settle = resolve;
    });
    const every = Math.max(20, Math.min(1000, Math.floor(opts.staleAfterMs / 4)));
    this.#watchdog = setInterval(() => this.#checkLiveness(), every);
    this.#es = new SinkEventSource(opts.url, { fetch: (url, init) => this.#fetch(url, init) });
    this.#es.sink = (ev) => this.#onEventSourceEvent(ev);
  }

  /** Resolves once the request and its body reader have let go (after the connection ended). */
  get settled(): Promise<void> {
    return this.#settled;
  }

  /** Ends the connection without calling onEnd (the owner already knows). */
  close(): void {
    this.#teardown();
  }

  #teardown(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    clearInterval(this.#watchdog);
    this.#es.sink = undefined;
    this.#es.close();
    this.#abort.abort(new Error(`connection ${this.id} closed`));
    this.#maybeSettle();
    return true;
  }

  #maybeSettle(): void {
    if (this.#ended && this.#busy === 0) this.#settle();
  }

  async #track<T>(work: Promise<T>): Promise<T> {
    this.#busy++;
    try {
      return await work;
    } finally {
      this.#busy--;
      this.#maybeSettle();
    }
  }

  #end(cause: Error): void {
    if (this.#teardown()) this.#handlers.onEnd(cause);
  }

  #checkLiveness(): void {
    const quiet = this.#now() - this.#lastByteAt;
    if (quiet >= this.#opts.staleAfterMs)
      this.#end(
        new Error(
          `no byte and no keep-alive from the control plane for ${quiet} ms (limit ${this.#opts.staleAfterMs} ms); redialling`,
        ),
      );
  }

  #onEventSourceEvent(ev: Event): void {
    if (ev.type === "open") {
      this.#handlers.onOpen();
      return;
    }
    if (ev.type === "error") {
      const e = ev as Event & { message?: string; code?: number };
      const cause =
        this.#failure ??
        (e.message
          ? new ProtocolError(`stream failed: ${e.message}`, e.code ? { status: e.code } : {})
          : new Error("the control plane ended the stream"));
      // After EventSource has finished its own error handling (it may still arm a reconnect timer,
      // which our close() then clears): we redial, not it.
      queueMicrotask(() => this.#end(cause));
      return;
    }
    if (ev instanceof MessageEvent) this.#handlers.onMessage(ev.type, ev.lastEventId, String(ev.data));
  }

  async #fetch(url: string | URL, init: { headers: Record<string, string>; signal?: unknown }) {
    const what = `GET ${new URL(url).pathname}`;
    const headers: Record<string, string> = {
      accept: "text/event-stream",
      "cache-control": "no-store",
      ...protocolHeaders(this.#opts.token),
    };
    if (this.#opts.lastEventId !== undefined) headers["last-event-id"] = this.#opts.lastEventId;
    const signals = [this.#abort.signal];
    if (init.signal instanceof AbortSignal) signals.push(init.signal);
    try {
      const res = await this.#track(
        fetch(url, { headers, signal: AbortSignal.any(signals), dispatcher: this.#opts.dispatcher }),
      );
      this.#touch();
      const versionError = checkProtocolVersion(what, res.status, res.headers.get(PROTOCOL_HEADER));
      if (versionError) {
        await res.body?.cancel().catch(() => {});
        throw versionError;
      }
      if (res.status !== 200)
        throw errorFromResponse(what, res.status, await this.#track(res.text().catch(() => "")));
      return this.#wrap(res);
    } catch (err) {
      this.#failure ??=
        err instanceof ProtocolError
          ? err
          : new ProtocolError(`${what}: no stream from ${new URL(url).origin}`, { cause: err });
      throw err;
    }
  }

  /** The response as EventSource needs it, with a body reader that notes every chunk's arrival. */
  #wrap(res: Awaited<ReturnType<typeof fetch>>): FetchLikeResponse {
    const body = res.body;
    const track = <T>(p: Promise<T>) => this.#track(p);
    const onChunk = () => this.#touch();
    const onError = (err: unknown) => {
      if (!this.#ended) this.#failure ??= new ProtocolError("the stream broke off", { cause: err });
    };
    return {
      status: res.status,
      url: res.url,
      redirected: res.redirected,
      headers: res.headers,
      body: body && {
        getReader() {
          const reader = body.getReader();
          return {
            async read() {
              try {
                const r = await track(reader.read());
                if (!r.done) onChunk();
                return r;
              } catch (err) {
                onError(err);
                throw err;
              }
            },
            cancel: (reason?: unknown) => reader.cancel(reason),
          };
        },
      },
    };
  }

  #touch(): void {
    this.#lastByteAt = this.#now();
  }
}
