// A Maven repository mirror on loopback for tests: serves a local Maven repository directory
// (the layout is the same as a remote one's), answers `<file>.sha1` with the file's own sha1 (a local
// repository keeps checksums only for some files), records every path asked for, and 404s the rest.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";

export interface MavenMirror {
  /** `http://127.0.0.1:<port>/`, for a settings.xml `<mirror><url>`. */
  url: string;
  /** Every path requested, in order, with what was answered. */
  requests: { path: string; status: number }[];
  close(): Promise<void>;
}

/** Serves `repository` (a Maven local repository such as `$MERIDIAN_CACHE/m2`) until closed. */
export async function startMavenMirror(repository: string): Promise<MavenMirror> {
  const requests: MavenMirror["requests"] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://mirror").pathname);
    const status = await answer(repository, path, req.method ?? "GET", res);
    requests.push({ path, status });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(
  repository: string,
  path: string,
  method: string,
  res: import("node:http").ServerResponse,
): Promise<number> {
  const file = join(repository, normalize(path).replace(/^(\.\.(\/|$))+/, ""));
  const sha1 = file.endsWith(".sha1");
  let body: Buffer;
  try {
    const bytes = await readFile(sha1 ? file.slice(0, -".sha1".length) : file);
    body = sha1 ? Buffer.from(createHash("sha1").update(bytes).digest("hex")) : bytes;
  } catch {
    res.writeHead(404).end();
    return 404;
  }
  res.writeHead(200, { "content-length": body.length });
  res.end(method === "HEAD" ? undefined : body);
  return 200;
}
