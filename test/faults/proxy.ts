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

/** A connection as the proxy sees it: the client's source port identifies the client's socket. */
export interface ProxiedConnection {
  clientPort: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** Delay every chunk by `ms` (0 turns it off). */
  setLatency(ms: number): void;
  /** Start or end a black hole; with `only`, just for the connections it selects (asked once each). */
  blackhole(on: boolean, only?: (c: ProxiedConnection) => boolean): void;
  /** Reset every open connection; returns how many. */
  resetAll(): number;
  /** Reset new connections at once while on. */
  refuse(on: boolean): void;
  stats(): FaultProxyStats;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Destroys a socket, with an RST when asked and the connection is fully open. A socket still
 * connecting or half-closed is destroyed plainly: Node 24's resetAndDestroy() then leaves the handle
 * open for good (and the process with it).
 */
function destroySocket(s: Socket, reset: boolean): void {
  if (s.destroyed) return;
  if (reset && !s.connecting && !s.readableEnded && !s.writableEnded) s.resetAndDestroy();
  else s.destroy();
}

interface Pipe {
  clientPort: number;
  /** Whether the current black hole applies to this connection (undefined: not asked yet). */
  inHole: boolean | undefined;
  client: Socket;
  upstream: Socket | undefined;
  /** Chunks from the client held until the upstream connection exists. */
  early: Buffer[];
  closed?: boolean;
}

/** Starts a proxy to `target`; every fault is off until switched on. */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  let latencyMs = 0;
  let holeOpen:
    | { promise: Promise<void>; resolve: () => void; only?: (c: ProxiedConnection) => boolean }
    | undefined;
  let refusing = false;
  const pipes = new Set<Pipe>();
  /** Every socket on either side, so close() leaves none behind whatever state its pipe is in. */
  const sockets = new Set<Socket>();
  const track = (sock: Socket) => {
    sockets.add(sock);
    sock.once("close", () => sockets.delete(sock));
  };
  const stats = { accepted: 0, resets: 0, refused: 0 };

  /** Resolves when no black hole is in force for `pipe`. */
  const holeClosed = (pipe: Pipe): Promise<void> => {
    if (!holeOpen) return Promise.resolve();
    pipe.inHole ??= holeOpen.only ? holeOpen.only({ clientPort: pipe.clientPort }) : true;
    return pipe.inHole ? holeOpen.promise.then(() => holeClosed(pipe)) : Promise.resolve();
  };

  /** Delivers `from`'s chunks to `to` in order, honouring latency and black holes. */
  const forward = (pipe: Pipe, from: Socket, to: () => Socket | undefined, held?: Buffer[]) => {
    let chain: Promise<void> = Promise.resolve();
    from.on("data", (chunk: Buffer) => {
      const due = Date.now() + latencyMs;
      chain = chain.then(async () => {
        await holeClosed(pipe);
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        await holeClosed(pipe);
        const dest = to();
        if (dest && !dest.destroyed) dest.write(chunk);
        else held?.push(chunk);
      });
    });
    return () => chain;
  };

  const destroyPipe = (p: Pipe, reset: boolean) => {
    p.closed = true;
    pipes.delete(p);
    for (const s of [p.client, p.upstream]) if (s) destroySocket(s, reset);
  };

  const server: Server = createServer((client) => {
    track(client);
    stats.accepted++;
    if (refusing) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    const pipe: Pipe = {
      clientPort: client.remotePort ?? 0,
      inHole: undefined,
      client,
      upstream: undefined,
      early: [],
    };
    pipes.add(pipe);
    client.on("error", () => destroyPipe(pipe, true));
    const clientDrained = forward(pipe, client, () => pipe.upstream, pipe.early);
    const connectUpstream = async () => {
      await holeClosed(pipe);
      if (pipe.closed || client.destroyed) return;
      const upstream = new Socket();
      track(upstream);
      pipe.upstream = upstream;
      upstream.on("error", () => destroyPipe(pipe, true));
      upstream.connect(opts.target.port, opts.target.host);
      // A connecting socket queues writes in order: what the client sent so far goes first.
      for (const c of pipe.early.splice(0)) upstream.write(c);
      const upstreamDrained = forward(pipe, upstream, () => client);
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
    blackhole(on, only) {
      if (holeOpen) {
        holeOpen.resolve();
        holeOpen = undefined;
        for (const p of pipes) p.inHole = undefined;
      }
      if (on) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => {
          resolve = r;
        });
        holeOpen = { promise, resolve, only };
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
      for (const p of [...pipes]) destroyPipe(p, false);
      for (const sock of sockets) destroySocket(sock, false);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
