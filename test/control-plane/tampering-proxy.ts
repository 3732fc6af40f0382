// A tampering proxy: a real HTTP server on loopback between the agents and the reference control
// plane, standing for a compromised link (a TLS-intercepting proxy, a stolen certificate). It
// forwards every request and answer byte for byte, except the SSE events of the streams, which it
// parses and may alter before passing on: change one field of a signed event and keep its signature,
// strip the signature, or answer a stream with events it captured earlier (a replay).
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One SSE event as it passes. */
export interface PassingEvent {
  id: string | undefined;
  type: string;
  /** The data lines rejoined. */
  data: string;
  /** The request path of the stream it travels on. */
  path: string;
}

/** Returns the event's new data (the event is altered), or undefined (it passes unchanged). */
export type Tamper = (e: PassingEvent) => string | undefined;

export interface TamperingProxy {
  url: string;
  /** Every event that passed (after tampering), in order. */
  readonly passed: PassingEvent[];
  /** Alters the first event `tamper` returns new data for; resolves with it once it has passed. */
  tamperOnce(tamper: Tamper): Promise<PassingEvent>;
  /**
   * The next stream request matching `path` is answered by the proxy itself with `events` (then held
   * open with keep-alives) instead of the control plane's; resolves when that answer is written.
   */
  answerNextStream(path: RegExp, events: PassingEvent[]): Promise<void>;
  /** Cuts every open stream (the agents redial). */
  dropStreams(): void;
  /** While on, stream requests are answered 503 (the agents back off and redial). */
  pauseStreams(on: boolean): void;
  /** The next stream request reaches the control plane without its Last-Event-ID: it gets a snapshot. */
  forgetNextLastEventId(): void;
  close(): Promise<void>;
}

export function formatSse(e: { id?: string | undefined; type: string; data: string }): string {
  const data = e.data
    .split("\n")
    .map((l) => `data: ${l}\n`)
    .join("");
  return `${e.id === undefined ? "" : `id: ${e.id}\n`}event: ${e.type}\n${data}\n`;
}

/** Parses one SSE block (without its blank line); undefined for a comment-only block. */
function parseBlock(block: string, path: string): PassingEvent | undefined {
  let id: string | undefined;
  let type = "message";
  const data: string[] = [];
  let any = false;
  for (const line of block.split("\n")) {
    if (line.startsWith(":") || line === "") continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    any = true;
    if (field === "id") id = value;
    else if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  return any ? { id, type, data: data.join("\n"), path } : undefined;
}

export async function startTamperingProxy(upstream: string): Promise<TamperingProxy> {
  const target = new URL(upstream);
  const passed: PassingEvent[] = [];
  const streams = new Set<ServerResponse>();
  let pending: { tamper: Tamper; done: (e: PassingEvent) => void } | undefined;
  let answer: { path: RegExp; events: PassingEvent[]; done: () => void } | undefined;
  let paused = false;
  let forget = false;

  const pass = (e: PassingEvent): string => {
    if (pending) {
      const data = pending.tamper(e);
      if (data !== undefined) {
        const altered = { ...e, data };
        const { done } = pending;
        pending = undefined;
        passed.push(altered);
        queueMicrotask(() => done(altered));
        return formatSse(altered);
      }
    }
    passed.push(e);
    return formatSse(e);
  };

  const holdStream = (res: ServerResponse, events: PassingEvent[]) => {
    res.writeHead(200, { "content-type": "text/event-stream", "meridian-protocol-version": "1" });
    for (const e of events) res.write(formatSse(e));
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 1000);
    streams.add(res);
    res.on("close", () => {
      clearInterval(keepAlive);
      streams.delete(res);
    });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/";
    if (answer && req.method === "GET" && answer.path.test(path)) {
      const a = answer;
      answer = undefined;
      req.resume();
      holdStream(res, a.events);
      a.done();
      return;
    }
    const isStream = req.method === "GET" && /\/stream$/.test(path);
    if (isStream && paused) {
      req.resume();
      res.writeHead(503, { "content-type": "application/json", "meridian-protocol-version": "1" });
      res.end('{"error":{"code":"unavailable","message":"paused by the tampering proxy"}}');
      return;
    }
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: target.host };
    if (isStream && forget) {
      forget = false;
      delete headers["last-event-id"];
    }
    const up = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path,
        headers,
        timeout: 30_000,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!String(upRes.headers["content-type"] ?? "").startsWith("text/event-stream")) {
          upRes.pipe(res);
          return;
        }
        res.flushHeaders();
        streams.add(res);
        res.on("close", () => {
          streams.delete(res);
          upRes.destroy();
        });
        let buf = "";
        upRes.setEncoding("utf8");
        upRes.on("data", (chunk: string) => {
          buf += chunk.replace(/\r\n?/g, "\n");
          for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const e = parseBlock(block, path);
            res.write(e ? pass(e) : `${block}\n\n`);
          }
        });
        upRes.on("end", () => res.end());
        upRes.on("error", () => res.destroy());
      },
    );
    up.on("timeout", () => up.destroy(new Error("upstream timed out")));
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    passed,
    tamperOnce: (tamper) =>
      new Promise((done) => {
        pending = { tamper, done };
      }),
    answerNextStream: (path, events) =>
      new Promise((done) => {
        answer = { path, events, done };
      }),
    dropStreams: () => {
      for (const s of streams) s.destroy();
    },
    pauseStreams: (on) => {
      paused = on;
    },
    forgetNextLastEventId: () => {
      forget = true;
    },
    close: async () => {
      for (const s of streams) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
