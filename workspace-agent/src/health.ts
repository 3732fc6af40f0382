// /healthz (the process answers), /readyz (caches synced, a credential loaded) and /metrics, bound
// to MERIDIAN_HEALTH_ADDR. Readiness never depends on the control plane being reachable: the data
// plane outlives it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthServerOptions {
  /** `host:port`; port 0 picks a free one (tests). */
  addr: string;
  registry: Registry;
  /** Undefined when ready, else why not. */
  notReady: () => string | undefined;
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, "$1") || "0.0.0.0";
  return { host, port: Number(addr.slice(i + 1)) };
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405).end();
    if (path === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    if (path === "/readyz") {
      const why = opts.notReady();
      res
        .writeHead(why ? 503 : 200, { "content-type": "text/plain" })
        .end(why ? `not ready: ${why}\n` : "ok\n");
      return;
    }
    if (path === "/metrics") {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(`${err.message}\n`),
      );
      return;
    }
    res.writeHead(404).end();
  });
  const { host, port } = splitHostPort(opts.addr);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new Error(
          `cannot listen on ${opts.addr} for /healthz; set MERIDIAN_HEALTH_ADDR to a free host:port`,
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const h = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    url: `http://${h}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
