// A scriptable HTTP server on loopback for the client's unit tests: each test decides what every
// request gets. (Integration tests use the real reference control plane under test/control-plane.)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { StaticTokenSource } from "./credentials.ts";
import type { Endpoint } from "./http.ts";
import type { TokenSource } from "./token-source.ts";

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  at: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void | Promise<void>;

export interface FakeServer {
  url: string;
  seen: Seen[];
  handle: (h: Handler) => void;
  endpoint: (tokens?: TokenSource) => Endpoint;
  close: () => Promise<void>;
}

export async function startFakeServer(server: Server = createServer()): Promise<FakeServer> {
  let handler: Handler = (_req, res) => {
    res.writeHead(404).end();
  };
  const seen: Seen[] = [];
  const open = new Set<ServerResponse>();
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const s = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      seen.push(s);
      open.add(res);
      res.on("close", () => open.delete(res));
      void handler(req, res, s);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const proto = "setSecureContext" in server ? "https" : "http";
  const url = `${proto}://127.0.0.1:${port}`;
  const dispatchers: Agent[] = [];
  return {
    url,
    seen,
    handle: (h) => {
      handler = h;
    },
    endpoint: (tokens = new StaticTokenSource("test-token-0123456789")) => {
      const dispatcher = new Agent({ bodyTimeout: 0 });
      dispatchers.push(dispatcher);
      return { baseUrl: url, dispatcher, tokens };
    },
    close: async () => {
      for (const r of open) r.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all(dispatchers.map((d) => d.close()));
    },
  };
}

/** Starts an SSE answer the way the protocol does. */
export function sseHead(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-store",
    "meridian-protocol-version": "1",
  });
  res.flushHeaders();
}

export function sseEvent(res: ServerResponse, e: { id?: string; event: string; data: unknown }): void {
  const data = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
  res.write(`${e.id === undefined ? "" : `id: ${e.id}\n`}event: ${e.event}\ndata: ${data}\n\n`);
}

export function jsonError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "application/json", "meridian-protocol-version": "1" });
  res.end(JSON.stringify({ error: { code, message } }));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` returns truthy or `ms` passes. */
export async function until<T>(check: () => T, ms = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}
