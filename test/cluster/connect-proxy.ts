// An HTTPS proxy on loopback as a corporate network puts one in front of the internet: HTTP CONNECT
// tunnels only, each needing `Proxy-Authorization: Basic <user:password>` (407 otherwise), bytes passed
// through untouched (TLS stays end to end). The e2e test sends the agents' control-plane traffic
// through it, so the proxy URL they get carries a real password, and counts what it tunnelled.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, type Socket } from "node:net";

export interface ConnectProxy {
  /** `http://<user>:<password>@127.0.0.1:<port>`: what HTTPS_PROXY is set to. */
  readonly url: string;
  readonly port: number;
  /** Tunnels opened with the right credentials, by target `host:port`. */
  tunnels(): Map<string, number>;
  /** Requests refused with 407 (no or wrong credentials). */
  refused(): number;
  stop(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1; `user` and `password` are what every CONNECT must carry. `port`:
 * listen there (a proxy started again where a stopped one was); default a free port.
 */
export async function startConnectProxy(opts: {
  user: string;
  password: string;
  port?: number;
}): Promise<ConnectProxy> {
  const expected = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString("base64")}`;
  const tunnels = new Map<string, number>();
  const sockets = new Set<Socket>();
  let refused = 0;
  const server: Server = createServer((_req, res) => {
    res.writeHead(405, { "content-type": "text/plain" }).end("this proxy only tunnels (CONNECT)\n");
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    if (req.headers["proxy-authorization"] !== expected) {
      refused++;
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="meridian-test"\r\n\r\n',
      );
      return;
    }
    const target = req.url ?? "";
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    if (!m) {
      client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    const upstream = connect({ host: m[1], port: Number(m[2]) });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    let connected = false;
    upstream.setTimeout(10_000, () => upstream.destroy(new Error("connect timeout")));
    upstream.once("connect", () => {
      connected = true;
      upstream.setTimeout(0);
      tunnels.set(target, (tunnels.get(target) ?? 0) + 1);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => {
      if (connected) client.destroy();
      else client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
    });
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: opts.port ?? 0 }, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const userinfo = `${encodeURIComponent(opts.user)}:${encodeURIComponent(opts.password)}`;
  return {
    url: `http://${userinfo}@127.0.0.1:${port}`,
    port,
    tunnels: () => new Map(tunnels),
    refused: () => refused,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
