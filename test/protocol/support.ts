// Shared pieces of the client-vs-reference-control-plane tests: a control plane on a temporary
// database whose debug log lines we can count (requests as the server saw them), endpoints built
// with the shared client's own dispatcher, and a recorder of a stream client's typed events.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  createDispatcher,
  type Endpoint,
  type EventMap,
  type StreamClient,
  type TokenSource,
} from "@meridian/shared/controlplane/index";
import { createLogger } from "@meridian/shared/log";
import type { Dispatcher } from "undici";
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from "../control-plane/server.ts";

export const WORKSPACE = { quota: { cpu: "4", memory: "8Gi" } };
export const DEPLOYMENT = {
  image: "flink:2.1",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 2,
  jobManager: { resources: { cpu: "1", memory: "1Gi" } },
  taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1 },
  state: "RUNNING" as const,
};

/** One request as the control plane logged it. */
export interface ServerRequest {
  method: string;
  url: string;
  status: number;
  at: number;
}

export interface Harness {
  cp: ControlPlane;
  dbPath: string;
  /** Every non-admin request the server finished, in order (from its own debug log). */
  requests: ServerRequest[];
  /** Dispatchers made by `endpoint()`; closed by `cleanup()`. */
  endpoint(tokens: TokenSource | string, dispatcher?: Dispatcher): Endpoint;
  cleanup(): Promise<void>;
}

export async function startHarness(opts: Partial<ControlPlaneOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "meridian-protocol-"));
  const dbPath = join(dir, "cp.db");
  const requests: ServerRequest[] = [];
  const lines = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line.includes('"msg":"request"')) continue;
        const l = JSON.parse(line) as { method: string; url: string; status: number };
        if (!l.url.startsWith("/admin"))
          requests.push({ method: l.method, url: l.url, status: l.status, at: Date.now() });
      }
      done();
    },
  });
  const logger = createLogger({ component: "control-plane", level: "debug", destination: lines });
  const cp = await startControlPlane({ dbPath, logger, ...opts });
  const dispatchers: Dispatcher[] = [];
  return {
    cp,
    dbPath,
    requests,
    endpoint(tokens, dispatcher) {
      const d = dispatcher ?? createDispatcher({ proxy: {} });
      dispatchers.push(d);
      const t = typeof tokens === "string" ? { token: async () => tokens } : tokens;
      return { baseUrl: cp.url, dispatcher: d, tokens: t };
    },
    async cleanup() {
      await cp.stop();
      await Promise.all(dispatchers.map((d) => d.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every typed event a stream client emits, in order, with helpers to wait for them. */
export class Recorder {
  readonly log: { name: string; at: number; arg: Record<string, unknown> }[] = [];

  constructor(client: StreamClient<EventMap>) {
    const on = client.on.bind(client) as (name: string, fn: (arg: Record<string, unknown>) => void) => void;
    for (const name of ["connected", "snapshot", "event", "rejected", "disconnected", "fatal"])
      on(name, (arg) => this.log.push({ name, at: Date.now(), arg }));
  }

  names(): string[] {
    return this.log.map((e) => e.name);
  }

  of(name: string): Record<string, unknown>[] {
    return this.log.filter((e) => e.name === name).map((e) => e.arg);
  }

  /** Ids of delivered events (snapshot and deltas) in arrival order. */
  eventIds(): string[] {
    return this.log
      .filter((e) => e.name === "snapshot" || e.name === "event")
      .map((e) => (e.arg.event as { id: string }).id);
  }

  async waitFor(
    pred: (e: { name: string; arg: Record<string, unknown> }) => boolean,
    timeoutMs = 5000,
    what = "an event",
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.log.find(pred);
      if (hit) return hit.arg;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; saw ${this.names().join(", ")}`,
        );
      await sleep(5);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it is truthy. */
export async function until<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * A reverse proxy that holds every request for `delayMs` before forwarding it, and records how many
 * were in flight at once: makes "at most one request in flight" observable on the wire.
 */
export async function startDelayProxy(target: string, delayMs: number) {
  const { createServer, request } = await import("node:http");
  const stats = { inflight: 0, maxInflight: 0, requests: 0 };
  const server = createServer((req, res) => {
    stats.requests++;
    stats.inflight++;
    stats.maxInflight = Math.max(stats.maxInflight, stats.inflight);
    const body: Buffer[] = [];
    req.on("data", (c: Buffer) => body.push(c));
    req.on("end", () => {
      setTimeout(() => {
        const up = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          upRes.on("end", () => stats.inflight--);
        });
        up.on("error", () => {
          stats.inflight--;
          res.destroy();
        });
        up.end(Buffer.concat(body));
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as import("node:net").AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
