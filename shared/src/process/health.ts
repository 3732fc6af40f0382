// The health server of every Meridian process, bound to MERIDIAN_HEALTH_ADDR: /healthz and /livez
// (the process answers), /readyz (every readiness check passes; else 503 with each failing check's
// reason) and /metrics (the process's Prometheus registry).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** One condition of readiness, e.g. `caches`: undefined while it holds, else why not. */
export interface ReadinessCheck {
  name: string;
  notReady(): string | undefined;
}

export interface HealthServerOptions {
  /** `host:port`; port 0 picks a free one (tests). */
  addr: string;
  registry: Registry;
  checks: readonly ReadinessCheck[];
}

export interface HealthServer {
  /** `http://host:port` actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

/** The reasons of the failing checks, in order; empty when ready. */
export function notReadyReasons(checks: readonly ReadinessCheck[]): string[] {
  return checks.flatMap((c) => {
    const why = c.notReady();
    return why ? [why] : [];
  });
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, "$1") || "0.0.0.0";
  return { host, port: Number(addr.slice(i + 1)) };
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const plain = { "content-type": "text/plain" };
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
    } else if (path === "/healthz" || path === "/livez") {
      res.writeHead(200, plain).end("ok\n");
    } else if (path === "/readyz") {
      const reasons = notReadyReasons(opts.checks);
      res
        .writeHead(reasons.length ? 503 : 200, plain)
        .end(reasons.length ? `not ready: ${reasons.join("; ")}\n` : "ok\n");
    } else if (path === "/metrics") {
      try {
        const body = await opts.registry.metrics();
        res.writeHead(200, { "content-type": opts.registry.contentType }).end(body);
      } catch (err) {
        res.writeHead(500, plain).end(`metrics failed: ${(err as Error).message}\n`);
      }
    } else res.writeHead(404, plain).end("not found\n");
  });
  server.keepAliveTimeout = 5000;
  const { host, port } = splitHostPort(opts.addr);
  // Not events.once(server, "listening"): it rejects with the bare error before this message is added.
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new Error(
          `cannot listen on ${opts.addr} for /healthz, /readyz and /metrics; set MERIDIAN_HEALTH_ADDR to a free host:port`,
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
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
