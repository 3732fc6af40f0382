// Free TCP ports on 127.0.0.1, found by letting the kernel pick one (listen on port 0).
import { createServer, type Server } from "node:net";

/**
 * Returns `count` distinct free ports on 127.0.0.1. All listeners are held open until every
 * port is known, so the kernel cannot hand out the same port twice; the small window between
 * closing them and the component binding is accepted (nothing else on a test box races for them).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => resolve());
      });
      const addr = server.address();
      if (addr === null || typeof addr === "string") throw new Error("listen on port 0 gave no TCP address");
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
