// A small HTTPS client for the harness's own calls to Kubernetes endpoints (readiness polls,
// TokenRequest): node:https with the cluster CA and the caller's client certificate or token.
import { Agent, request as httpsRequest, type RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";

export interface HttpResponse {
  status: number;
  body: string;
}

export interface KubeHttpAuth {
  server: string;
  caPem: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
}

export class KubeHttp {
  readonly server: string;
  readonly #base: RequestOptions;
  readonly #agent: Agent;

  constructor(base: RequestOptions & { server: string }) {
    const { server, ...rest } = base;
    this.server = server.replace(/\/+$/, "");
    this.#agent = new Agent({ keepAlive: true, maxSockets: 4 });
    this.#base = rest;
  }

  static fromCredentials(auth: KubeHttpAuth): KubeHttp {
    const opts: RequestOptions & { server: string } = { server: auth.server, ca: auth.caPem };
    if (auth.clientCertPem) opts.cert = auth.clientCertPem;
    if (auth.clientKeyPem) opts.key = auth.clientKeyPem;
    if (auth.token) opts.headers = { authorization: `Bearer ${auth.token}` };
    return new KubeHttp(opts);
  }

  /** Builds a client from a kubeconfig file's current context (any auth client-node understands). */
  static async fromKubeconfigFile(path: string): Promise<KubeHttp> {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig ${path} has no current cluster; set current-context`);
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return new KubeHttp({ ...opts, server: cluster.server });
  }

  /** One request; `body` objects are sent as JSON. Never throws for HTTP status codes. */
  request(
    method: string,
    path: string,
    body?: unknown,
    opts: { timeoutMs?: number; contentType?: string } = {},
  ): Promise<HttpResponse> {
    const url = new URL(this.server + path);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const headers: Record<string, string> = { ...(this.#base.headers as Record<string, string>) };
    headers.accept = "application/json";
    if (payload !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        { ...this.#base, method, headers, agent: this.#agent, timeout: opts.timeoutMs ?? 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
