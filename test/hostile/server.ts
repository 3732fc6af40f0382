// A hostile control plane: speaks protocol v1 on loopback, but every answer can be scripted per
// request — status code, headers (a Location, a wrong content type, another protocol version), raw
// SSE bytes, enormous bodies written without being held in memory, stalls, slow drips, resets. It is
// what the reference control plane (test/control-plane, which stays well-behaved) must never be.
//
//   const cp = await startHostileServer();
//   cp.script({ method: "GET", path: /\/stream$/ }, { status: 301, headers: { location: "http://…" } });
//   cp.script({ path: /\/stream$/ }, [first, second]);     // the nth request gets the nth; the last repeats
//   const s = await cp.nextStream();  await s.send(event({ id: "7", event: "snapshot", data }));
//
// Unscripted protocol routes get a well-behaved default: a held stream with keep-alives, 204 for
// status (its body kept in `statuses`), a freshly minted credential for credential requests.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from "@meridian/shared/protocol/index";

/** One piece of a body, written in order. */
export type Step =
  | string
  | Uint8Array
  /** The same bytes `times` times, waiting for the socket to drain: megabytes without holding them. */
  | { repeat: string | Uint8Array; times: number }
  /** Nothing for `ms`. */
  | { stallMs: number }
  /** One byte at a time, `everyMs` apart. */
  | { drip: string; everyMs: number };

export interface Answer {
  /** Default 200. */
  status?: number;
  /** Merged over the defaults (protocol version, content type); `null` removes a default. */
  headers?: Record<string, string | null>;
  /** Wait this long before the status line. */
  delayMs?: number;
  body?: Step[];
  /** After the body: `end` (default, except for streams), `hold` (default for streams), `destroy` (reset). */
  after?: "end" | "hold" | "destroy";
  /** The same as `after` (an object literal with `then` reads like a promise to a linter). */
  then?: "end" | "hold" | "destroy";
  /** Keep-alive comments on a held answer; default 1000 ms for streams, none otherwise. 0: none. */
  keepAliveMs?: number;
  /**
   * The whole answer as bytes straight onto the socket — status line, headers and body framing
   * included — for what Node's HTTP server would never write (bad chunk sizes, a status line that is
   * not HTTP). `status`, `headers` and `body` are then ignored; `after` applies to the socket.
   */
  raw?: Step[];
}

export interface HostileRequest {
  seq: number;
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  at: number;
}

export interface Route {
  method?: string;
  path: string | RegExp;
}

export type Script = Answer | ((req: HostileRequest) => Answer | Promise<Answer>);

/** A held answer (usually an SSE stream) the test writes to as it goes. */
export interface OpenStream {
  req: HostileRequest;
  send(...steps: Step[]): Promise<void>;
  end(): void;
  /** A TCP reset. */
  destroy(): void;
  readonly closed: boolean;
}

export interface HostileServer {
  url: string;
  port: number;
  requests: HostileRequest[];
  /** Parsed bodies of the status POSTs answered by the default route. */
  statuses: { path: string; body: unknown }[];
  /** Every token the default credential route handed out (for "no secret in any log" checks). */
  tokens: string[];
  /** Scripted answers for a route; later scripts win over earlier ones and over the defaults. */
  script(route: Route, answers: Script | Script[]): void;
  /** Forgets every script (the defaults answer again). */
  clearScripts(): void;
  /** Held answers still open, oldest first. */
  streams(): OpenStream[];
  /** The next held stream opened after this call (or the open one, with `existing`). */
  nextStream(opts?: { existing?: boolean; timeoutMs?: number }): Promise<OpenStream>;
  close(): Promise<void>;
}

/** The bytes of one SSE event; `id` and `event` are left out when undefined. */
export function event(e: { id?: string; event?: string; data: unknown }): string {
  const data = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
  const lines = data.split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`);
  return `${e.id === undefined ? "" : `id: ${e.id}\n`}${e.event === undefined ? "" : `event: ${e.event}\n`}${lines.join("")}\n`;
}

const isStream = (path: string) => /\/stream$/.test(path);

/** What a well-behaved control plane would answer; scripts override it. */
function defaultAnswer(req: HostileRequest, statuses: HostileServer["statuses"], tokens: string[]): Answer {
  if (req.method === "GET" && isStream(req.path)) return {};
  if (req.method === "POST" && req.path.endsWith("/status")) {
    try {
      statuses.push({ path: req.path, body: JSON.parse(req.body) });
    } catch {
      statuses.push({ path: req.path, body: req.body });
    }
    return { status: 204 };
  }
  const cred =
    /^\/v1\/(?:agents\/[^/]+\/workspaces\/([^/]+)\/credentials|workspaces\/([^/]+)\/credentials\/refresh)$/;
  const m = req.method === "POST" ? cred.exec(req.path) : null;
  if (m) {
    const workspaceId = decodeURIComponent(m[1] ?? m[2] ?? "");
    const expiresAt = new Date(Date.now() + 900_000).toISOString();
    const token = `hostile_${randomBytes(16).toString("hex")}`;
    tokens.push(token);
    return { body: [JSON.stringify({ workspaceId, token, expiresAt })] };
  }
  return { status: 404, body: [JSON.stringify({ error: { code: "not_found", message: "no such route" } })] };
}

export async function startHostileServer(): Promise<HostileServer> {
  const requests: HostileRequest[] = [];
  const statuses: HostileServer["statuses"] = [];
  const tokens: string[] = [];
  let scripts: { route: Route; answers: Script[]; served: number }[] = [];
  const open = new Set<OpenStream>();
  const waiters: ((s: OpenStream) => void)[] = [];
  const sockets = new Set<import("node:net").Socket>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: HostileRequest = {
        seq: requests.length,
        method: req.method ?? "",
        path: (req.url ?? "").split("?")[0] ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      requests.push(r);
      void answer(r, res).catch(() => res.destroy());
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  const pick = async (r: HostileRequest): Promise<Answer> => {
    for (let i = scripts.length - 1; i >= 0; i--) {
      const s = scripts[i]!;
      if (s.route.method && s.route.method !== r.method) continue;
      if (typeof s.route.path === "string" ? s.route.path !== r.path : !s.route.path.test(r.path)) continue;
      const next = s.answers[Math.min(s.served++, s.answers.length - 1)]!;
      return typeof next === "function" ? next(r) : next;
    }
    return defaultAnswer(r, statuses, tokens);
  };

  async function answer(r: HostileRequest, res: ServerResponse): Promise<void> {
    const a = await pick(r);
    const stream = r.method === "GET" && isStream(r.path);
    if (a.delayMs) await sleep(a.delayMs);
    // The client gave up during the delay: its socket's close has passed, so nothing may be held for it.
    if (res.destroyed || res.socket?.destroyed !== false) return;
    if (a.raw) return rawAnswer(res, a.raw, a.after ?? a.then ?? "end");
    const headers: Record<string, string> = {
      [PROTOCOL_HEADER]: PROTOCOL_VERSION,
      "content-type": stream && (a.status ?? 200) === 200 ? "text/event-stream" : "application/json",
    };
    for (const [k, v] of Object.entries(a.headers ?? {})) {
      if (v === null) delete headers[k.toLowerCase()];
      else headers[k.toLowerCase()] = v;
    }
    res.writeHead(a.status ?? 200, headers);
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    await write(res, a.body ?? []);
    const then = a.after ?? a.then ?? (stream && (a.status ?? 200) === 200 ? "hold" : "end");
    if (then === "end") res.end();
    else if (then === "destroy") res.destroy();
    else hold(r, res, a.keepAliveMs ?? (stream ? 1000 : 0));
  }

  function hold(req: HostileRequest, res: ServerResponse, keepAliveMs: number): void {
    // A keep-alive ends with a blank line: never between the steps of one send, or it would end an
    // event the test is still writing.
    let sending = 0;
    const keepAlive = () => {
      if (sending === 0) res.write(": keep-alive\n\n");
    };
    const timer = keepAliveMs > 0 ? setInterval(keepAlive, keepAliveMs).unref() : undefined;
    const s: OpenStream = {
      req,
      send: async (...steps) => {
        sending++;
        try {
          await write(res, steps);
        } finally {
          sending--;
        }
      },
      end: () => res.end(),
      destroy: () => res.destroy(),
      get closed() {
        return res.destroyed || res.writableEnded;
      },
    };
    open.add(s);
    res.on("close", () => {
      clearInterval(timer);
      open.delete(s);
    });
    for (const w of waiters.splice(0)) w(s);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    statuses,
    tokens,
    script: (route, answers) => {
      scripts.push({ route, answers: Array.isArray(answers) ? answers : [answers], served: 0 });
    },
    clearScripts: () => {
      scripts = [];
    },
    streams: () => [...open],
    nextStream: ({ existing = false, timeoutMs = 15_000 } = {}) => {
      const current = [...open].filter((s) => !s.closed).at(-1);
      if (existing && current) return Promise.resolve(current);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no stream opened within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((s) => {
          clearTimeout(t);
          resolve(s);
        });
      });
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Bytes straight onto the socket, bypassing Node's HTTP framing; then end, reset or leave it open. */
async function rawAnswer(
  res: ServerResponse,
  steps: Step[],
  then: "end" | "hold" | "destroy",
): Promise<void> {
  const socket = res.socket;
  if (!socket) return;
  await write(socket, steps);
  if (then === "end") socket.end();
  else if (then === "destroy") socket.destroy();
}

/** A response or a bare socket. */
interface Sink {
  write(chunk: string | Uint8Array): boolean;
  once(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

/** Writes steps in order, honouring back-pressure; stops quietly once the peer has gone. */
async function write(res: Sink, steps: Step[]): Promise<void> {
  const put = async (chunk: string | Uint8Array) => {
    if (res.destroyed || res.writableEnded) return;
    if (!res.write(chunk))
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.once("drain", done);
        res.once("close", done);
      });
  };
  for (const step of steps) {
    if (typeof step === "string" || step instanceof Uint8Array) await put(step);
    else if ("repeat" in step) for (let i = 0; i < step.times; i++) await put(step.repeat);
    else if ("stallMs" in step) await sleep(step.stallMs);
    else
      for (const ch of step.drip) {
        await put(ch);
        await sleep(step.everyMs);
      }
  }
}
