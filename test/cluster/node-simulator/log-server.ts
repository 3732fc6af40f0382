// The kubelet's container-log endpoint, served over HTTPS on 127.0.0.1:
//   GET /containerLogs/{namespace}/{pod}/{container}?follow&tailLines&timestamps&previous&sinceSeconds&sinceTime&limitBytes
// The apiserver proxies `kubectl logs` here (node InternalIP + daemonEndpoints.kubeletEndpoint.Port),
// presenting its kubelet client certificate, which is accepted without further checks.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "@meridian/shared/log";
import { type ContainerLog, formatLogLine, type LogLine, readLogLines } from "./log-store.ts";

export interface ContainerLogs {
  /** Log file paths of the container's instances, oldest first. */
  files: string[];
  /** The writer of the newest instance while it runs. */
  live: ContainerLog | undefined;
  /** Simulated without a process: its log is empty rather than missing. */
  simulated?: boolean;
}

export type FindLogs = (namespace: string, pod: string, container: string) => ContainerLogs | undefined;

export interface ServingCert {
  certPem: string;
  keyPem: string;
}

/** A self-signed certificate for 127.0.0.1, for clusters whose CA cannot sign one. */
export async function selfSignedCert(dir: string): Promise<ServingCert> {
  const keyPath = join(dir, "kubelet-serving.key");
  const certPath = join(dir, "kubelet-serving.crt");
  // biome-ignore format: one openssl flag per pair reads best
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-days", "365", "-subj", "/CN=meridian-sim-kubelet", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout", keyPath, "-out", certPath,
  ]);
  return { certPem: await readFile(certPath, "utf8"), keyPem: await readFile(keyPath, "utf8") };
}

export async function startLogServer(cert: ServingCert, find: FindLogs, logger: Logger): Promise<Server> {
  const server = createServer(
    { cert: cert.certPem, key: cert.keyPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      try {
        handle(req, res, find);
      } catch (err) {
        logger.warn({ err, url: req.url }, "log request failed");
        if (!res.headersSent) res.writeHead(500);
        res.end(`${(err as Error).message}\n`);
      }
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return server;
}

export function serverPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

const truthy = (v: string | null) => v === "true" || v === "1";

function handle(req: IncomingMessage, res: ServerResponse, find: FindLogs): void {
  const url = new URL(req.url ?? "/", "https://127.0.0.1");
  if (url.pathname === "/healthz") {
    res.end("ok");
    return;
  }
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
  if (req.method !== "GET" || !m) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(
      `the node simulator serves only GET /containerLogs/{namespace}/{pod}/{container}, not ${url.pathname}\n`,
    );
    return;
  }
  const [ns, podName, container] = m.slice(1).map(decodeURIComponent) as [string, string, string];
  const logs = find(ns, podName, container);
  if (!logs) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(
      `container "${container}" in pod "${podName}" in namespace "${ns}" is not running on this node\n`,
    );
    return;
  }
  const q = url.searchParams;
  const previous = truthy(q.get("previous"));
  const file = previous ? logs.files.at(-2) : logs.files.at(-1);
  if (!file && logs.simulated && !previous) {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end();
    return;
  }
  if (!file) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(
      previous
        ? `previous terminated container "${container}" in pod "${podName}" not found\n`
        : `container "${container}" in pod "${podName}" is waiting to start\n`,
    );
    return;
  }
  const timestamps = truthy(q.get("timestamps"));
  const tail = q.get("tailLines");
  const sinceSeconds = q.get("sinceSeconds");
  const sinceTime = q.get("sinceTime");
  const sinceMs = sinceTime
    ? Date.parse(sinceTime)
    : sinceSeconds
      ? Date.now() - Number(sinceSeconds) * 1000
      : undefined;
  let budget = q.get("limitBytes") ? Number(q.get("limitBytes")) : Number.POSITIVE_INFINITY;
  res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
  const write = (l: LogLine): boolean => {
    let text = formatLogLine(l, timestamps);
    if (Buffer.byteLength(text) > budget) text = Buffer.from(text).subarray(0, budget).toString();
    budget -= Buffer.byteLength(text);
    res.write(text);
    return budget > 0;
  };
  const live = !previous && logs.live && logs.live.path === file && !logs.live.closed ? logs.live : undefined;
  // Backlog and subscription happen in one synchronous step: log writes are synchronous too.
  const backlog = readLogLines(file, {
    tailLines: tail === null ? undefined : Number(tail),
    sinceMs: Number.isFinite(sinceMs) ? sinceMs : undefined,
  });
  for (const l of backlog) {
    if (!write(l)) {
      res.end();
      return;
    }
  }
  if (!truthy(q.get("follow")) || !live) {
    res.end();
    return;
  }
  const onLine = (l: LogLine) => {
    if (!write(l)) done();
  };
  const done = () => {
    live.off("line", onLine);
    live.off("end", done);
    res.end();
  };
  live.on("line", onLine);
  live.once("end", done);
  req.on("close", () => {
    live.off("line", onLine);
    live.off("end", done);
  });
}
