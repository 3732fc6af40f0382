// A TCP fault proxy on loopback, put between two components (an agent and the kube-apiserver, say) to
// inject network faults at runtime, in the spirit of toxiproxy:
//  - latency: every chunk in both directions is delivered `ms` later, in order;
//  - black hole: nothing is delivered in either direction and new connections get no answer; what
//    was sent is held and delivered when the hole closes (a partition that heals, TCP retransmits),
//    unless the peer gave up first;
//  - reset: every open connection is reset (RST) on both sides;
//  - refuse: new connections are reset at once (a port nobody listens on).
// Bytes pass through untouched (TLS stays end to end); the proxy never reads them.
import { createServer, type Server, Socket } from "node:net";

export interface FaultProxyOptions {
  /** Where connections go. */
  target: { host: string; port: number };
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; default 0 (a free one). */
  port?: number;
}

export interface FaultProxyStats {
  accepted: number;
  open: number;
  resets: number;
  refused: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** Delay every chunk by `ms` (0 turns it off). */
  setLatency(ms: number): void;
  /** Start or end a black hole. */
  blackhole(on: boolean): void;
  /** Reset every open connection; returns how many. */
  resetAll(): number;
  /** Reset new connections at once while on. */
  refuse(on: boolean): void;
  stats(): FaultProxyStats;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Pipe {
  client: Socket;
  upstream: Socket | undefined;
  /** Chunks from the client held until the upstream connection exists. */
  early: Buffer[];
}

/** Starts a proxy to `target`; every fault is off until switched on. */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  let latencyMs = 0;
  let holeOpen: { promise: Promise<void>; resolve: () => void } | undefined;
  let refusing = false;
  const pipes = new Set<Pipe>();
  const stats = { accepted: 0, resets: 0, refused: 0 };

  /** Resolves when no black hole is in force. */
  const holeClosed = () => holeOpen?.promise ?? Promise.resolve();

  /** Delivers `from`'s chunks to `to` in order, honouring latency and black holes. */
  const forward = (from: Socket, to: () => Socket | undefined, held?: Buffer[]) => {
    let chain: Promise<void> = Promise.resolve();
    from.on("data", (chunk: Buffer) => {
      const due = Date.now() + latencyMs;
      chain = chain.then(async () => {
        await holeClosed();
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        await holeClosed();
        const dest = to();
        if (dest && !dest.destroyed) dest.write(chunk);
        else held?.push(chunk);
      });
    });
    return () => chain;
  };

  const destroyPipe = (p: Pipe, reset: boolean) => {
    pipes.delete(p);
    for (const s of [p.client, p.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  };

  const server: Server = createServer((client) => {
    stats.accepted++;
    if (refusing) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    const pipe: Pipe = { client, upstream: undefined, early: [] };
    pipes.add(pipe);
    client.on("error", () => destroyPipe(pipe, true));
    const clientDrained = forward(client, () => pipe.upstream, pipe.early);
    const connectUpstream = async () => {
      await holeClosed();
      if (client.destroyed) return;
      const upstream = new Socket();
      pipe.upstream = upstream;
      upstream.on("error", () => destroyPipe(pipe, true));
      upstream.connect(opts.target.port, opts.target.host);
      // A connecting socket queues writes in order: what the client sent so far goes first.
      for (const c of pipe.early.splice(0)) upstream.write(c);
      const upstreamDrained = forward(upstream, () => client);
      upstream.on("end", () => void upstreamDrained().then(() => client.end()));
      upstream.on("close", () => void upstreamDrained().then(() => destroyPipe(pipe, false)));
    };
    client.on("end", () => void clientDrained().then(() => pipe.upstream?.end()));
    client.on("close", () => void clientDrained().then(() => destroyPipe(pipe, false)));
    void connectUpstream();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("the fault proxy has no TCP address");

  return {
    host: addr.address,
    port: addr.port,
    setLatency(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`latency must be >= 0 ms, got ${ms}`);
      latencyMs = ms;
    },
    blackhole(on) {
      if (on && !holeOpen) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => {
          resolve = r;
        });
        holeOpen = { promise, resolve };
      } else if (!on && holeOpen) {
        holeOpen.resolve();
        holeOpen = undefined;
      }
    },
    resetAll() {
      const n = pipes.size;
      stats.resets += n;
      for (const p of [...pipes]) destroyPipe(p, true);
      return n;
    },
    refuse(on) {
      refusing = on;
    },
    stats: () => ({ ...stats, open: pipes.size }),
    async close() {
      holeOpen?.resolve();
      holeOpen = undefined;
      for (const p of [...pipes]) destroyPipe(p, true);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
