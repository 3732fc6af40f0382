// Azure Blob storage on loopback for tests: Azurite's blob service (the `azurite` npm package, a
// devDependency) with its well-known account devstoreaccount1, served over TLS under the account's
// production host name `devstoreaccount1.blob.core.windows.net` (a certificate from a CA made per
// start, test/cluster/certs.ts). Hadoop's WASB driver (in Flink's flink-azure-fs-hadoop) has no
// endpoint setting: it always calls `https://<account host>` on port 443 (its storage-emulator mode
// is fixed to 127.0.0.1:10000). So a JVM reaches this server the way a pod behind a corporate proxy
// reaches Azure: through an HTTPS CONNECT proxy (`-Dhttps.proxyHost`), here one that tunnels the
// account host, and nothing else, to Azurite's loopback port; TLS stays end to end and the JVM
// trusts the CA through `javaOptions` (a PKCS#12 trust store made with keytool). Comes with a small
// Shared Key client (create a container, list blobs) so tests look at what Flink wrote through the
// Blob REST API, not through Azurite's files.
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { CertificateAuthority } from "../certs.ts";
import { findJava } from "../flink/image-handler.ts";
import { repoRoot } from "../paths.ts";
import { freePort } from "../ports.ts";
import { ComponentProcess } from "../process.ts";

const run = promisify(execFile);

/** Azurite's built-in account and its published key (the storage emulator's; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const API_VERSION = "2021-10-04";
const TRUSTSTORE_PASSWORD = "meridian-test";

export interface AzuriteServer {
  /** `devstoreaccount1.blob.core.windows.net`: the host of `wasbs://<container>@<host>/...`. */
  accountHost: string;
  accountKey: string;
  /** Azurite's own loopback endpoint (`https://127.0.0.1:<port>`). */
  endpoint: string;
  /** The CONNECT proxy a JVM is pointed at, and how many tunnels it opened. */
  proxyPort: number;
  tunnels(): number;
  /** JVM options that send HTTPS through the proxy and trust the CA (for `env.java.opts.all`). */
  javaOptions: string[];
  /** A Shared Key request (another `key`: what Azure answers a caller without the account's key). */
  request(
    method: string,
    path: string,
    query?: URLSearchParams,
    opts?: { key?: string },
  ): Promise<{ status: number; body: string }>;
  createContainer(container: string): Promise<void>;
  /** Every blob name under `prefix`, sorted, following continuation markers. */
  listBlobs(container: string, prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Holds the blob data, the certificates, the trust store and the log. */
  dir: string;
  startTimeoutMs?: number;
}

function azuriteBin(): string {
  const bin = join(repoRoot, "node_modules/.bin/azurite-blob");
  if (!existsSync(bin)) throw new Error(`no Azurite at ${bin}: run npm ci (azurite is a devDependency)`);
  return bin;
}

/** Shared Key authorization of a Blob service request (what every Azure SDK sends). */
export function sharedKeyAuthorization(req: {
  method: string;
  account: string;
  key: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
}): string {
  const h = (name: string) => req.headers[name.toLowerCase()] ?? "";
  const length = h("content-length") === "0" ? "" : h("content-length");
  const msHeaders = Object.keys(req.headers)
    .filter((k) => k.startsWith("x-ms-"))
    .sort()
    .map((k) => `${k}:${req.headers[k]}\n`)
    .join("");
  const params = [...req.query.keys()].map((k) => k.toLowerCase()).sort();
  const query = params.map((k) => `\n${k}:${req.query.getAll(k).join(",")}`).join("");
  // biome-ignore format: one header of the string to sign per line
  const fields = [
    req.method, h("content-encoding"), h("content-language"), length, h("content-md5"), h("content-type"),
    h("date"), h("if-modified-since"), h("if-match"), h("if-none-match"), h("if-unmodified-since"), h("range"),
  ];
  const toSign = `${fields.join("\n")}\n${msHeaders}/${req.account}${req.path}${query}`;
  const sig = createHmac("sha256", Buffer.from(req.key, "base64")).update(toSign, "utf8").digest("base64");
  return `SharedKey ${req.account}:${sig}`;
}

/** A CONNECT proxy on 127.0.0.1 that tunnels `host:443` to `127.0.0.1:port` and refuses every other target. */
async function startRedirectProxy(
  host: string,
  port: number,
): Promise<{ server: Server; port: number; tunnels: () => number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  let tunnels = 0;
  const server = createServer((_req, res) => res.writeHead(405).end("CONNECT only\n"));
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    if (req.url?.toLowerCase() !== `${host}:443`) {
      client.end(`HTTP/1.1 403 Forbidden\r\n\r\nthis proxy tunnels only ${host}:443\n`);
      return;
    }
    tunnels++;
    const upstream = connect(port, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("the CONNECT proxy has no port");
  return { server, port: addr.port, tunnels: () => tunnels, sockets };
}

export async function startAzurite(opts: AzuriteOptions): Promise<AzuriteServer> {
  const bin = azuriteBin();
  const accountHost = `${AZURITE_ACCOUNT}.blob.core.windows.net`;
  const pki = join(opts.dir, "pki");
  const data = join(opts.dir, "azurite-data");
  await Promise.all([mkdir(pki, { recursive: true }), mkdir(data, { recursive: true })]);
  const ca = await CertificateAuthority.create(pki, "ca", "meridian-azurite-test-ca");
  const leaf = await ca.issue({
    name: "azurite",
    commonName: accountHost,
    hosts: [accountHost],
    usage: "server",
  });
  const truststore = join(pki, "truststore.p12");
  const keytool = join(dirname(findJava()), "keytool");
  await rm(truststore, { force: true }); // keytool refuses an alias that is there already
  // biome-ignore format: one keytool flag per pair reads best
  await run(existsSync(keytool) ? keytool : "keytool", [
    "-importcert", "-noprompt", "-alias", "meridian-azurite-test-ca", "-file", ca.cert.certPath,
    "-keystore", truststore, "-storetype", "PKCS12", "-storepass", TRUSTSTORE_PASSWORD,
  ]).catch((err) => {
    throw new Error(`keytool could not make the trust store (is a JDK on PATH?): ${(err as { stderr?: string }).stderr ?? err}`);
  });
  const port = await freePort();
  const endpoint = `https://127.0.0.1:${port}`;
  // biome-ignore format: one flag per pair reads best
  const proc = new ComponentProcess("azurite", process.execPath, [
    bin, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", data,
    "--skipApiVersionCheck", "--loose", "--cert", leaf.certPath, "--key", leaf.keyPath,
    "--debug", join(opts.dir, "azurite-debug.log"),
  ], { logPath: join(opts.dir, "azurite.log"), cwd: opts.dir });

  const call = (
    method: string,
    path: string,
    query = new URLSearchParams(),
    { timeoutMs = 15_000, key = AZURITE_ACCOUNT_KEY }: { timeoutMs?: number; key?: string } = {},
  ) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const headers: Record<string, string> = {
        "x-ms-date": new Date().toUTCString(),
        "x-ms-version": API_VERSION,
        "content-length": "0",
      };
      headers.authorization = sharedKeyAuthorization({
        method,
        account: AZURITE_ACCOUNT,
        key,
        path,
        query,
        headers,
      });
      const q = query.toString();
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port,
          method,
          path: `${path}${q ? `?${q}` : ""}`,
          servername: accountHost,
          ca: ca.cert.certPem,
          headers: { ...headers, host: accountHost },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () =>
        req.destroy(new Error(`Azurite did not answer ${method} ${path} in ${timeoutMs} ms`)),
      );
      req.on("error", reject);
      req.end();
    });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (!proc.running) throw new Error(`Azurite did not start: ${await proc.describeExit()}`);
    const up = await call("GET", "/", new URLSearchParams({ comp: "list" }), { timeoutMs: 2000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`Azurite did not answer on ${endpoint} in time: ${await proc.describeExit()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const proxy = await startRedirectProxy(accountHost, port).catch(async (err) => {
    await proc.stop();
    throw err;
  });
  const ok = (what: string, r: { status: number; body: string }) => {
    if (r.status >= 300) throw new Error(`Azurite ${what}: ${r.status} ${r.body.slice(0, 500)}`);
    return r;
  };
  return {
    accountHost,
    accountKey: AZURITE_ACCOUNT_KEY,
    endpoint,
    proxyPort: proxy.port,
    tunnels: proxy.tunnels,
    javaOptions: [
      "-Dhttps.proxyHost=127.0.0.1",
      `-Dhttps.proxyPort=${proxy.port}`,
      `-Djavax.net.ssl.trustStore=${truststore}`,
      `-Djavax.net.ssl.trustStorePassword=${TRUSTSTORE_PASSWORD}`,
      "-Djavax.net.ssl.trustStoreType=PKCS12",
    ],
    request: (method, path, query, o) => call(method, path, query, o),
    createContainer: async (container) => {
      const r = await call("PUT", `/${container}`, new URLSearchParams({ restype: "container" }));
      // 409: it exists already (idempotent).
      if (r.status !== 409) ok(`create container ${container}`, r);
    },
    listBlobs: async (container, prefix = "") => {
      const names: string[] = [];
      let marker = "";
      do {
        const q = new URLSearchParams({ restype: "container", comp: "list", prefix });
        if (marker) q.set("marker", marker);
        const xml = ok(`list ${container}`, await call("GET", `/${container}`, q)).body;
        for (const m of xml.matchAll(/<Name>([^<]*)<\/Name>/g)) names.push(m[1] ?? "");
        marker = /<NextMarker>([^<]*)<\/NextMarker>/.exec(xml)?.[1] ?? "";
      } while (marker);
      return names.sort();
    },
    stop: async () => {
      for (const s of proxy.sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
      await proc.stop();
    },
  };
}
