// A KubeClient without @kubernetes/client-node at run time. Importing client-node loads its whole
// generated API (~80 MB resident), which is most of a small process's memory; a workspace agent needs
// only a ServiceAccount token (in a pod) or a kubeconfig with a token or client certificate (tests,
// development). LightKubeConfig implements the three methods KubeClient uses with that subset and
// refuses the rest (exec plugins, auth providers, proxies) with a message pointing at
// createKubeClient, which handles everything.
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import { KubeClient, type KubeClientOptions } from "./client.ts";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

interface Credentials {
  server: string;
  skipTLSVerify: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  /** A fixed token, or a file re-read on every request (a projected token rotates). */
  token?: string;
  tokenFile?: string;
}

export class LightKubeConfig {
  #c: Credentials;
  /** The kubeconfig file it came from, re-read when it changes (a rewritten token). */
  readonly #source: { path: string; context: string | undefined; stamp: string } | undefined;

  constructor(c: Credentials, source?: { path: string; context: string | undefined }) {
    this.#c = c;
    this.#source = source && { ...source, stamp: stamp(source.path) };
  }

  /** The pod's ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, its token and CA under `dir`. */
  static inCluster(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): LightKubeConfig {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    if (!host)
      throw new Error(
        "no kubeconfig given and not running in a pod (KUBERNETES_SERVICE_HOST is unset); pass a kubeconfig",
      );
    const h = host.includes(":") ? `[${host}]` : host;
    return new LightKubeConfig({
      server: `https://${h}:${port}`,
      skipTLSVerify: false,
      ca: readFileSync(join(dir, "ca.crt"), "utf8"),
      tokenFile: join(dir, "token"),
    });
  }

  /** A kubeconfig file's current (or given) context, with token or client-certificate auth. */
  static fromFile(path: string, context?: string): LightKubeConfig {
    return new LightKubeConfig(LightKubeConfig.#read(path, context), { path, context });
  }

  static #read(path: string, context: string | undefined): Credentials {
    let doc: KubeconfigDoc;
    try {
      doc = parse(readFileSync(path, "utf8")) as KubeconfigDoc;
    } catch (cause) {
      throw new Error(`cannot read the kubeconfig ${path}; check the path and its YAML`, { cause });
    }
    const ctxName = context ?? doc["current-context"];
    const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
    const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
    const user = doc.users?.find((u) => u.name === ctx?.user)?.user ?? {};
    if (!ctx || !cluster?.server)
      throw new Error(
        `the kubeconfig ${path} has no usable context ${JSON.stringify(ctxName)}; set current-context`,
      );
    if (user.exec || user["auth-provider"] || cluster["proxy-url"])
      throw new Error(
        `the kubeconfig ${path} uses exec/auth-provider credentials or a proxy, which the light client does not support; use createKubeClient`,
      );
    const base = dirname(path);
    const file = (p: string | undefined) =>
      p ? readFileSync(isAbsolute(p) ? p : join(base, p), "utf8") : undefined;
    const data = (d: string | undefined) => (d ? Buffer.from(d, "base64").toString("utf8") : undefined);
    const c: Credentials = {
      server: cluster.server,
      skipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
    };
    const ca = data(cluster["certificate-authority-data"]) ?? file(cluster["certificate-authority"]);
    const cert = data(user["client-certificate-data"]) ?? file(user["client-certificate"]);
    const key = data(user["client-key-data"]) ?? file(user["client-key"]);
    if (ca) c.ca = ca;
    if (cert) c.cert = cert;
    if (key) c.key = key;
    if (user.token) c.token = user.token;
    if (user.tokenFile)
      c.tokenFile = isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile);
    return c;
  }

  getCurrentCluster(): { name: string; server: string; skipTLSVerify: boolean } {
    return { name: "current", server: this.#c.server, skipTLSVerify: this.#c.skipTLSVerify };
  }

  /** TLS material and the Authorization header, as client-node's KubeConfig sets them. */
  async applyToHTTPSOptions(
    opts: Record<string, unknown> & { headers?: Record<string, string> },
  ): Promise<void> {
    const src = this.#source;
    if (src) {
      const now = stamp(src.path);
      if (now !== src.stamp) {
        src.stamp = now;
        this.#c = LightKubeConfig.#read(src.path, src.context);
      }
    }
    if (this.#c.ca) opts.ca = this.#c.ca;
    if (this.#c.cert) opts.cert = this.#c.cert;
    if (this.#c.key) opts.key = this.#c.key;
    if (this.#c.skipTLSVerify) opts.rejectUnauthorized = false;
    const token = this.#c.tokenFile ? readFileSync(this.#c.tokenFile, "utf8").trim() : this.#c.token;
    if (token) opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${token}` };
  }

  createDispatcherOptions(
    _cluster: unknown,
    tls: Record<string, unknown>,
  ): { type: "agent"; connect: Record<string, unknown> } | { type: "none" } {
    if (Object.keys(tls).length === 0) return { type: "none" };
    return { type: "agent", connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 } };
  }
}

function stamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}/${st.mtimeMs}/${st.size}`;
  } catch {
    return "";
  }
}

interface KubeconfigDoc {
  "current-context"?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{
    name: string;
    cluster: {
      server: string;
      "certificate-authority"?: string;
      "certificate-authority-data"?: string;
      "insecure-skip-tls-verify"?: boolean;
      "proxy-url"?: string;
    };
  }>;
  users?: Array<{
    name: string;
    user: {
      token?: string;
      tokenFile?: string;
      "client-certificate"?: string;
      "client-certificate-data"?: string;
      "client-key"?: string;
      "client-key-data"?: string;
      exec?: unknown;
      "auth-provider"?: unknown;
    };
  }>;
}

/** A KubeClient from a kubeconfig file, or the pod's ServiceAccount, without loading client-node. */
export function createLightKubeClient(
  opts: KubeClientOptions & { kubeconfig?: string; context?: string } = {},
): Promise<KubeClient> {
  const kc = opts.kubeconfig
    ? LightKubeConfig.fromFile(opts.kubeconfig, opts.context)
    : LightKubeConfig.inCluster();
  return KubeClient.fromKubeConfig(kc as unknown as KubeConfig, opts);
}
