// One SSE connection and everything it started: an AbortController, the request (undici +
// dispatcher + auth + protocol headers + Last-Event-ID, redirects answered but never followed), a
// body reader that timestamps every chunk (keep-alive comments included) and feeds the bounded SSE
// parser, and the watchdog that tears the connection down when nothing arrived for `staleAfterMs`.
// It never redials: it ends exactly once, reports why through `onEnd`, and the StreamClient decides.
import { MAX_ANY_EVENT_BYTES, maxEventBytes, PROTOCOL_HEADER } from "@meridian/shared/protocol/index";
import { type Dispatcher, fetch } from "undici";
import { errorFromResponse, ProtocolError, redirectError } from "./errors.ts";
import { checkProtocolVersion, protocolHeaders, readLimited } from "./http.ts";
import { SseParser } from "./sse.ts";

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
  /** One complete event; `id` is its own `id:` field, undefined when it had none. */
  onMessage(type: string, id: string | undefined, data: string): void;
  /** An event over its size limit (see protocol/limits.ts): skipped unread, the stream goes on. */
  onRefused(type: string, id: string | undefined, reason: string): void;
  /** Called exactly once, whatever ended the connection (except `close()` by the owner). */
  onEnd(cause: Error): void;
}

export class Connection {
  readonly id: string;
  readonly #opts: ConnectionOptions;
  readonly #handlers: ConnectionHandlers;
  readonly #abort = new AbortController();
  readonly #now: () => number;
  readonly #watchdog: ReturnType<typeof setInterval>;
  readonly #settled: Promise<void>;
  #settle!: () => void;
  #lastByteAt: number;
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
    void this.#run();
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

  /** Dials, checks the answer, then reads the body through the bounded SSE parser until it ends. */
  async #run(): Promise<void> {
    const url = this.#opts.url;
    const what = `GET ${new URL(url).pathname}`;
    let body: ReadableStream<Uint8Array>;
    try {
      body = await this.#open(url, what);
    } catch (err) {
      this.#end(
        err instanceof ProtocolError
          ? err
          : new ProtocolError(`${what}: no stream from ${new URL(url).origin}`, { cause: err }),
      );
      return;
    }
    if (this.#ended) return;
    this.#handlers.onOpen();
    const parser = new SseParser({
      onMessage: (m) => {
        if (!this.#ended) this.#handlers.onMessage(m.type, m.id, m.data);
      },
      onRefused: (r) => {
        if (!this.#ended) this.#handlers.onRefused(r.type, r.id, r.reason);
      },
      maxEventBytes,
      maxAnyEventBytes: MAX_ANY_EVENT_BYTES,
    });
    const reader = body.getReader();
    try {
      for (;;) {
        const r = await this.#track(reader.read());
        if (r.done || this.#ended) break;
        this.#touch();
        parser.feed(r.value);
      }
    } catch (err) {
      this.#end(new ProtocolError("the stream broke off", { cause: err }));
      return;
    }
    this.#end(new Error("the control plane ended the stream"));
  }

  /** The response body of an accepted stream; anything else throws a ProtocolError. */
  async #open(url: string, what: string): Promise<ReadableStream<Uint8Array>> {
    const headers: Record<string, string> = {
      accept: "text/event-stream",
      "cache-control": "no-store",
      ...protocolHeaders(this.#opts.token),
    };
    if (this.#opts.lastEventId !== undefined) headers["last-event-id"] = this.#opts.lastEventId;
    const res = await this.#track(
      // A redirect is answered, never followed: see redirectError.
      fetch(url, {
        headers,
        signal: this.#abort.signal,
        dispatcher: this.#opts.dispatcher,
        redirect: "manual",
      }),
    );
    this.#touch();
    const refuse = async (err: ProtocolError): Promise<never> => {
      await res.body?.cancel().catch(() => {});
      throw err;
    };
    const versionError = checkProtocolVersion(what, res.status, res.headers.get(PROTOCOL_HEADER));
    if (versionError) return refuse(versionError);
    if (res.status >= 300 && res.status < 400)
      return refuse(redirectError(what, res.status, res.headers.get("location"), url, this.#opts.token));
    if (res.status !== 200) {
      const { text } = await this.#track(readLimited(res.body).catch(() => ({ text: "" })));
      throw errorFromResponse(what, res.status, text, this.#opts.token);
    }
    const type = res.headers.get("content-type") ?? "";
    if (!/^text\/event-stream(;|$)/i.test(type.trim()))
      return refuse(
        new ProtocolError(
          `${what}: the answer is ${JSON.stringify(type.slice(0, 100))}, not text/event-stream; is a proxy in the way?`,
          { status: res.status },
        ),
      );
    if (!res.body) throw new ProtocolError(`${what}: the answer has no body`, { status: res.status });
    return res.body;
  }

  #touch(): void {
    this.#lastByteAt = this.#now();
  }
}
