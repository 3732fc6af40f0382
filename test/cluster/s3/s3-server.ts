// An S3-compatible server on loopback for tests and the demo: S3Proxy (fetched from Maven Central by
// test/cluster/fetch-s3proxy.sh) with its file-system backend, access keys required (aws-v2-or-v4
// signatures), started as a child process that never outlives its starter (process.ts). Comes with
// a small signed S3 client (bucket, put, get, list) so tests look at what Flink wrote through the
// S3 API, not through the backend's files.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findJava } from "../flink/image-handler.ts";
import { cacheDir, repoRoot } from "../paths.ts";
import { freePort } from "../ports.ts";
import { ComponentProcess } from "../process.ts";
import { type S3Credentials, signS3Request } from "./sigv4.ts";

export interface S3Server {
  /** `http://127.0.0.1:<port>`: path-style access (`<endpoint>/<bucket>/<key>`). */
  endpoint: string;
  credentials: S3Credentials;
  createBucket(bucket: string): Promise<void>;
  putObject(bucket: string, key: string, body: Buffer | string): Promise<void>;
  getObject(bucket: string, key: string): Promise<Buffer | undefined>;
  /** Every object key under `prefix` (directory markers left out), sorted, following continuation tokens. */
  listObjects(bucket: string, prefix?: string): Promise<string[]>;
  /** A request signed with other credentials: what S3 answers a caller who lacks the keys. */
  request(
    method: string,
    path: string,
    opts?: { body?: Buffer; credentials?: S3Credentials },
  ): Promise<Response>;
  stop(): Promise<void>;
}

/** The pinned S3Proxy version (test/cluster/s3proxy-version). */
export function s3proxyJar(): string {
  const version = readFileSync(join(repoRoot, "test/cluster/s3proxy-version"), "utf8").trim();
  return join(cacheDir(), "s3proxy", version, "s3proxy.jar");
}

export interface S3ServerOptions {
  /** Holds the backend's files, the properties and the log. */
  dir: string;
  /** Default: fixed test keys (not secrets: loopback only). */
  credentials?: S3Credentials;
  startTimeoutMs?: number;
}

export const TEST_S3_CREDENTIALS: S3Credentials = {
  accessKeyId: "meridian-test",
  secretAccessKey: "meridian-test-secret-key",
  region: "us-east-1",
};

export async function startS3Server(opts: S3ServerOptions): Promise<S3Server> {
  const jar = s3proxyJar();
  if (!existsSync(jar)) throw new Error(`no S3Proxy at ${jar}: run bash test/cluster/fetch-s3proxy.sh`);
  const credentials = opts.credentials ?? TEST_S3_CREDENTIALS;
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const data = join(opts.dir, "s3-data");
  await mkdir(data, { recursive: true });
  const properties = join(opts.dir, "s3proxy.properties");
  await writeFile(
    properties,
    [
      `s3proxy.endpoint=${endpoint}`,
      "s3proxy.authorization=aws-v2-or-v4",
      `s3proxy.identity=${credentials.accessKeyId}`,
      `s3proxy.credential=${credentials.secretAccessKey}`,
      "jclouds.provider=filesystem",
      `jclouds.filesystem.basedir=${data}`,
      "",
    ].join("\n"),
  );
  const proc = new ComponentProcess(
    "s3proxy",
    findJava(),
    ["-Xmx256m", "-XX:+UseSerialGC", "-jar", jar, "--properties", properties],
    {
      logPath: join(opts.dir, "s3proxy.log"),
      cwd: opts.dir,
    },
  );
  const call = async (
    method: string,
    path: string,
    o: { body?: Buffer; credentials?: S3Credentials } = {},
  ) => {
    const url = new URL(path, endpoint);
    const headers = signS3Request({
      method,
      url,
      body: o.body,
      credentials: o.credentials ?? credentials,
      now: new Date(),
    });
    return fetch(url, { method, headers, ...(o.body ? { body: o.body } : {}) });
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (!proc.running) throw new Error(`S3Proxy did not start: ${await proc.describeExit()}`);
    const up = await fetch(`${endpoint}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`S3Proxy did not answer on ${endpoint} in time: ${await proc.describeExit()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const ok = async (what: string, r: Response) => {
    if (!r.ok) throw new Error(`S3 ${what}: ${r.status} ${(await r.text()).slice(0, 500)}`);
    return r;
  };
  const path = (bucket: string, key = "") => `/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  return {
    endpoint,
    credentials,
    request: call,
    createBucket: async (bucket) => {
      await ok(`create bucket ${bucket}`, await call("PUT", `/${bucket}`));
    },
    putObject: async (bucket, key, body) => {
      await ok(`put ${bucket}/${key}`, await call("PUT", path(bucket, key), { body: Buffer.from(body) }));
    },
    getObject: async (bucket, key) => {
      const r = await call("GET", path(bucket, key));
      if (r.status === 404) return undefined;
      return Buffer.from(await (await ok(`get ${bucket}/${key}`, r)).arrayBuffer());
    },
    listObjects: async (bucket, prefix = "") => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ "list-type": "2", prefix });
        if (token) q.set("continuation-token", token);
        const xml = await (await ok(`list ${bucket}`, await call("GET", `/${bucket}?${q}`))).text();
        // Directory markers (`a/b/`: the file-system backend lists its directories) are no objects.
        for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g))
          if (!m[1]!.endsWith("/")) keys.push(unescapeXml(m[1]!));
        token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
          ? unescapeXml(/<NextContinuationToken>([^<]*)</.exec(xml)?.[1] ?? "")
          : undefined;
      } while (token);
      return keys.sort();
    },
    stop: async () => {
      await proc.stop();
    },
  };
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
