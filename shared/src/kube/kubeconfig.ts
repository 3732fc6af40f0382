// Where the API server is and how to authenticate: from a kubeconfig file or from the pod's
// ServiceAccount. A small reader of our own (not @kubernetes/client-node's KubeConfig, whose import
// alone costs ~70 MB of resident memory): certificate and token users, token files re-read as
// they rotate, a kubeconfig file rewritten with a new token (as the node simulator does for a pod),
// exec credential plugins (EKS `aws eks get-token`, AKS `kubelogin`), basic auth. The one reader of
// both agents (decision 10).
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { isIPv6 } from "node:net";
import { dirname, isAbsolute, join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";

export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface ClusterAuth {
  /** e.g. `https://10.96.0.1:443`, no trailing slash. */
  server: string;
  tls: TlsOptions;
  proxyUrl?: string;
  /** The namespace of the kubeconfig context (or the pod's), if any. */
  namespace?: string;
  /** Authorization headers for the next request; refreshes rotating credentials. */
  headers(): Promise<Record<string, string>>;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** How often a token file, or the kubeconfig file itself, is looked at again. */
const REREAD_MS = 60_000;

export interface KubeconfigOptions {
  /** Look at a token file or a changed kubeconfig again after this long. Default 60 s. */
  rereadMs?: number;
}

/** The pod's ServiceAccount: token (re-read every minute, as kubelet rotates it), CA, namespace. */
export function inClusterAuth(
  env: Record<string, string | undefined> = process.env,
  dir = SA_DIR,
): ClusterAuth {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host)
    throw new Error("not running in a pod (KUBERNETES_SERVICE_HOST is unset); pass a kubeconfig instead");
  const ca = readOrThrow(join(dir, "ca.crt"), "the ServiceAccount CA");
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, "namespace"), "utf8").trim() || undefined;
  } catch {
    namespace = undefined;
  }
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    tls: { ca },
    namespace,
    headers: bearerFromFile(join(dir, "token"), REREAD_MS),
  };
}

/**
 * The current (or named) context of a kubeconfig file. Its credentials follow the file: when it is
 * rewritten (a new token), the next request after `rereadMs` uses the new one. The server and TLS
 * settings are those of the first read (the connection pool is built from them).
 */
export function loadKubeconfigFile(
  path: string,
  contextName?: string,
  opts: KubeconfigOptions = {},
): ClusterAuth {
  const rereadMs = opts.rereadMs ?? REREAD_MS;
  const auth = readKubeconfig(path, contextName, rereadMs);
  let headers = auth.headers;
  let seen = fileStamp(path);
  let checkedAt = Date.now();
  auth.headers = async () => {
    if (Date.now() - checkedAt >= rereadMs) {
      checkedAt = Date.now();
      const now = fileStamp(path);
      if (now !== seen) {
        headers = readKubeconfig(path, contextName, rereadMs).headers;
        seen = now;
      }
    }
    return headers();
  };
  return auth;
}

function readKubeconfig(path: string, contextName: string | undefined, rereadMs: number): ClusterAuth {
  let doc: KubeconfigDoc;
  try {
    doc = parse(readFileSync(path, "utf8")) as KubeconfigDoc;
  } catch (err) {
    throw new Error(`cannot read the kubeconfig ${path}; check the path and its YAML`, { cause: err });
  }
  const base = dirname(path);
  const name = contextName ?? doc["current-context"];
  const ctx = doc.contexts?.find((c) => c.name === name)?.context;
  if (!ctx)
    throw new Error(`kubeconfig ${path} has no context "${name ?? ""}"; set current-context or pass one`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server)
    throw new Error(`kubeconfig ${path}: context "${name}" names no cluster with a server`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  const file = (p: string | undefined) => (p ? readOrThrow(isAbsolute(p) ? p : join(base, p), p) : undefined);
  const data = (d: string | undefined) => (d ? Buffer.from(d, "base64").toString("utf8") : undefined);
  const tls: TlsOptions = {};
  const ca = data(cluster["certificate-authority-data"]) ?? file(cluster["certificate-authority"]);
  if (ca) tls.ca = ca;
  const cert = data(user["client-certificate-data"]) ?? file(user["client-certificate"]);
  const key = data(user["client-key-data"]) ?? file(user["client-key"]);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (cluster["insecure-skip-tls-verify"]) tls.rejectUnauthorized = false;
  if (cluster["tls-server-name"]) tls.servername = cluster["tls-server-name"];
  let headers: () => Promise<Record<string, string>>;
  if (user.token) {
    const h = { authorization: `Bearer ${user.token}` };
    headers = async () => h;
  } else if (user.tokenFile) {
    headers = bearerFromFile(
      isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile),
      rereadMs,
    );
  } else if (user.exec) {
    headers = execPlugin(user.exec);
  } else if (user.username !== undefined) {
    const h = {
      authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`,
    };
    headers = async () => h;
  } else if (user["auth-provider"]) {
    throw new Error(
      `kubeconfig ${path}: auth-provider "${user["auth-provider"].name}" is not supported; use an exec plugin`,
    );
  } else {
    headers = async () => ({});
  }
  const auth: ClusterAuth = { server: cluster.server.replace(/\/+$/, ""), tls, headers };
  if (cluster["proxy-url"]) auth.proxyUrl = cluster["proxy-url"];
  if (ctx.namespace) auth.namespace = ctx.namespace;
  return auth;
}

/** Identity of a file's current content (a rewrite by rename changes the inode, an edit the mtime). */
function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}/${st.mtimeMs}/${st.size}`;
  } catch {
    return "";
  }
}

function bearerFromFile(path: string, rereadMs: number): () => Promise<Record<string, string>> {
  let cached: { h: Record<string, string>; at: number } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < rereadMs) return cached.h;
    const token = readOrThrow(path, "the token file").trim();
    cached = { h: { authorization: `Bearer ${token}` }, at: Date.now() };
    return cached.h;
  };
}

interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
}

/** Runs a client-go credential plugin and caches its token until shortly before it expires. */
function execPlugin(exec: ExecConfig): () => Promise<Record<string, string>> {
  const run = promisify(execFile);
  let cached: { h: Record<string, string>; until: number } | undefined;
  let inflight: Promise<Record<string, string>> | undefined;
  return async () => {
    if (cached && Date.now() < cached.until) return cached.h;
    inflight ??= (async () => {
      try {
        const env = { ...process.env };
        for (const e of exec.env ?? []) env[e.name] = e.value;
        const apiVersion = exec.apiVersion ?? "client.authentication.k8s.io/v1";
        env.KUBERNETES_EXEC_INFO = JSON.stringify({
          apiVersion,
          kind: "ExecCredential",
          spec: { interactive: false },
        });
        let stdout: string;
        try {
          ({ stdout } = await run(exec.command, exec.args ?? [], {
            env,
            timeout: 60_000,
            maxBuffer: 1 << 20,
          }));
        } catch (err) {
          // Not `{ cause: err }`: execFile's error carries the plugin's stdout, which may hold a token.
          throw new Error(
            `the kubeconfig's exec credential plugin "${exec.command}" failed: ${describeExecFailure(err)}`,
          );
        }
        let status: { token?: string; expirationTimestamp?: string } | undefined;
        try {
          status = (JSON.parse(stdout) as { status?: { token?: string; expirationTimestamp?: string } })
            .status;
        } catch {
          // JSON.parse's message quotes the input; say only that it was not JSON.
          throw new Error(
            `the exec credential plugin "${exec.command}" did not print an ExecCredential JSON object`,
          );
        }
        if (!status?.token)
          throw new Error(
            `the exec credential plugin "${exec.command}" returned no token (client certificates are not supported)`,
          );
        const expires = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.NaN;
        const until = Number.isFinite(expires) ? expires - 30_000 : Date.now() + 10 * 60_000;
        cached = { h: { authorization: `Bearer ${status.token}` }, until };
        return cached.h;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };
}

function readOrThrow(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${what} (${path})`, { cause: err });
  }
}

interface KubeconfigDoc {
  "current-context"?: string;
  clusters?: {
    name: string;
    cluster: {
      server?: string;
      "certificate-authority"?: string;
      "certificate-authority-data"?: string;
      "insecure-skip-tls-verify"?: boolean;
      "tls-server-name"?: string;
      "proxy-url"?: string;
    };
  }[];
  users?: {
    name: string;
    user: {
      token?: string;
      tokenFile?: string;
      "client-certificate"?: string;
      "client-certificate-data"?: string;
      "client-key"?: string;
      "client-key-data"?: string;
      username?: string;
      password?: string;
      exec?: ExecConfig;
      "auth-provider"?: { name: string };
    };
  }[];
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
}

/** Exit code, signal and the first stderr line of a failed plugin run; never its stdout. */
function describeExecFailure(err: unknown): string {
  const e = err as { code?: unknown; signal?: unknown; stderr?: unknown; killed?: boolean };
  const parts: string[] = [];
  if (e.killed) parts.push("timed out after 60 s");
  if (e.code !== undefined) parts.push(`exit code ${String(e.code)}`);
  if (e.signal) parts.push(`signal ${String(e.signal)}`);
  const firstErrLine = typeof e.stderr === "string" ? e.stderr.split("\n")[0]?.trim().slice(0, 200) : "";
  if (firstErrLine) parts.push(`stderr: ${firstErrLine}`);
  return parts.join(", ") || "unknown error";
}
