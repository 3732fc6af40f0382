// /healthz (the process is alive), /readyz (caches synced, and either leading with the stream
// connected or standing by), /metrics (Prometheus). Bound to MERIDIAN_HEALTH_ADDR.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface Readiness {
  /** Empty when ready; otherwise why not (shown in the /readyz body). */
  notReadyReasons(): string[];
}

export interface HealthServer {
  /** `http://host:port` actually bound (port 0 picks one). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(
  addr: string,
  readiness: Readiness,
  registry: Registry,
): Promise<HealthServer> {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0";
  const port = Number(addr.slice(i + 1));
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    if (path === "/healthz" || path === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const reasons = readiness.notReadyReasons();
      res
        .writeHead(reasons.length ? 503 : 200, { "content-type": "text/plain" })
        .end(reasons.length ? `not ready: ${reasons.join("; ")}\n` : "ok\n");
    } else if (path === "/metrics") {
      try {
        const body = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType }).end(body);
      } catch (err) {
        res
          .writeHead(500, { "content-type": "text/plain" })
          .end(`metrics failed: ${(err as Error).message}\n`);
      }
    } else res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  server.keepAliveTimeout = 5000;
  server.listen(port, host);
  await Promise.race([
    once(server, "listening"),
    once(server, "error").then(([err]) => {
      throw new Error(
        `cannot listen on ${addr} for /healthz, /readyz and /metrics; set MERIDIAN_HEALTH_ADDR`,
        { cause: err },
      );
    }),
  ]);
  const a = server.address() as AddressInfo;
  const shownHost = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    url: `http://${shownHost}:${a.port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
