// A small Kubernetes REST client: one TLS connection pool, credentials from a kubeconfig or the
// in-cluster ServiceAccount (through @kubernetes/client-node's KubeConfig, so exec plugins and
// rotating token files work), a global bound on concurrent requests, and one hook that sees every
// request (metrics, write counting). Watches stream outside the bound (see watch.ts).
import type { KubeConfig } from "@kubernetes/client-node";
import type PQueue from "p-queue";
import { Agent, type Dispatcher, fetch, ProxyAgent } from "undici";
import { KubeApiError, statusFromBody } from "./errors.ts";
import { createLimiter } from "./queue.ts";
import type { KubeObject } from "./resources.ts";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface KubeRequest {
  method: HttpMethod;
  /** Absolute API path, e.g. `/api/v1/namespaces`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON unless it is already a string. */
  body?: unknown;
  /** Default `application/json` (`application/apply-patch+yaml` for server-side apply). */
  contentType?: string;
  signal?: AbortSignal;
  /** Per-request timeout; default the client's. */
  timeoutMs?: number;
}

/** What the request hook sees. `verb` is the Kubernetes verb (get, list, create, apply, ...). */
export interface RequestInfo {
  verb: KubeVerb;
  method: HttpMethod;
  path: string;
  /** HTTP status, or 0 when no answer came (network error, abort). */
  status: number;
  durationMs: number;
}

export type KubeVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "apply" | "delete";

export interface KubeClientOptions {
  /** Bound on concurrent non-watch requests; default 8. A shared limiter may be passed instead. */
  concurrency?: number;
  limiter?: PQueue;
  /** Default per-request timeout in ms; default 30000. */
  timeoutMs?: number;
  /** How long cached auth headers are reused before asking the KubeConfig again; default 30 s. */
  authRefreshMs?: number;
}

type Listener = (info: RequestInfo) => void;

export class KubeClient {
  readonly server: string;
  readonly #kc: KubeConfig;
  readonly #dispatcher: Dispatcher;
  readonly #limiter: PQueue;
  readonly #timeoutMs: number;
  readonly #authRefreshMs: number;
  readonly #listeners = new Set<Listener>();
  #auth: { headers: Record<string, string>; at: number } | undefined;

  /** Use `createKubeClient` (kubeconfig path or in-cluster) or `KubeClient.fromKubeConfig`. */
  constructor(kc: KubeConfig, dispatcher: Dispatcher, opts: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster; set current-context or pass one");
    this.server = cluster.server.replace(/\/+$/, "");
    this.#kc = kc;
    this.#dispatcher = dispatcher;
    this.#limiter = opts.limiter ?? createLimiter(opts.concurrency ?? 8);
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#authRefreshMs = opts.authRefreshMs ?? 30_000;
  }

  /** A client for the current context of a loaded KubeConfig, with one connection pool. */
  static async fromKubeConfig(kc: KubeConfig, opts: KubeClientOptions = {}): Promise<KubeClient> {
    if (!kc.getCurrentCluster())
      throw new Error("the kubeconfig has no current cluster; set current-context or pass one");
    return new KubeClient(kc, await makeDispatcher(kc), opts);
  }

  /** Subscribes to every finished request; returns the unsubscribe function. */
  onRequest(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends one request through the global bound. Throws KubeApiError on a non-2xx answer. */
  async request<T = unknown>(req: KubeRequest): Promise<T> {
    return (await this.requestWithStatus<T>(req)).body;
  }

  /** Like `request`, also giving the HTTP status (e.g. 201 Created vs 200 OK of an apply). */
  async requestWithStatus<T = unknown>(req: KubeRequest): Promise<{ status: number; body: T }> {
    return this.#limiter.add(() => this.#send<T>(req), { signal: req.signal }) as Promise<{
      status: number;
      body: T;
    }>;
  }

  /** GET one object; undefined when it does not exist. */
  async getOrUndefined<T extends KubeObject>(path: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.request<T>({ method: "GET", path, signal });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The API server's version (`GET /version`), e.g. `v1.35.4`. */
  async serverVersion(signal?: AbortSignal): Promise<string> {
    const v = await this.request<{ gitVersion?: string }>({ method: "GET", path: "/version", signal });
    return v.gitVersion ?? "unknown";
  }

  /**
   * Opens a streaming GET (a watch) outside the concurrency bound and returns the response body.
   * The caller owns `signal` and must abort it to close the stream.
   */
  async openStream(path: string, query: KubeRequest["query"], signal: AbortSignal): Promise<Response> {
    const url = this.#url(path, query);
    const started = performance.now();
    let status = 0;
    try {
      const res = await fetch(url, {
        method: "GET",
        headers: { ...(await this.#authHeaders()), accept: "application/json" },
        dispatcher: this.#dispatcher,
        signal,
      });
      status = res.status;
      if (!res.ok) throw await errorFrom(res, "GET", path);
      return res as unknown as Response;
    } finally {
      this.#emit({ verb: "watch", method: "GET", path, status, durationMs: performance.now() - started });
    }
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.#dispatcher.close().catch(() => {});
  }

  async #send<T>(req: KubeRequest): Promise<{ status: number; body: T }> {
    const url = this.#url(req.path, req.query);
    const timeout = AbortSignal.timeout(req.timeoutMs ?? this.#timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const headers: Record<string, string> = { ...(await this.#authHeaders()), accept: "application/json" };
    let body: string | undefined;
    if (req.body !== undefined) {
      body = typeof req.body === "string" ? req.body : JSON.stringify(req.body);
      headers["content-type"] = req.contentType ?? "application/json";
    }
    const started = performance.now();
    let status = 0;
    try {
      const res = await fetch(url, {
        method: req.method,
        headers,
        body,
        dispatcher: this.#dispatcher,
        signal,
      });
      status = res.status;
      if (!res.ok) throw await errorFrom(res as unknown as Response, req.method, req.path);
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    } catch (err) {
      if (err instanceof KubeApiError) throw err;
      throw new Error(`${req.method} ${req.path} failed without an answer from the API server`, {
        cause: err,
      });
    } finally {
      this.#emit({
        verb: verbOf(req),
        method: req.method,
        path: req.path,
        status,
        durationMs: performance.now() - started,
      });
    }
  }

  #url(path: string, query: KubeRequest["query"]): string {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  async #authHeaders(): Promise<Record<string, string>> {
    const now = Date.now();
    if (this.#auth && now - this.#auth.at < this.#authRefreshMs) return this.#auth.headers;
    const opts: { headers?: Record<string, string> } = {};
    await this.#kc.applyToHTTPSOptions(opts as never);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = String(v);
    this.#auth = { headers, at: now };
    return headers;
  }

  #emit(info: RequestInfo): void {
    for (const l of this.#listeners) {
      try {
        l(info);
      } catch {
        // A broken listener must not break requests.
      }
    }
  }
}

/** The Kubernetes verb of a request, as RBAC and audit logs name it. */
export function verbOf(req: Pick<KubeRequest, "method" | "path" | "query" | "contentType">): KubeVerb {
  switch (req.method) {
    case "GET":
      if (req.query?.watch === true || req.query?.watch === "true") return "watch";
      return isCollectionPath(req.path) ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return req.contentType === "application/apply-patch+yaml" ? "apply" : "patch";
    case "DELETE":
      return "delete";
  }
}

/** True for verbs that change state in the cluster. */
export function isWriteVerb(verb: KubeVerb): boolean {
  return verb !== "get" && verb !== "list" && verb !== "watch";
}

/** `/api/v1/pods`, `/api/v1/namespaces/x/pods` and `/apis/g/v/namespaces` are collections. */
function isCollectionPath(path: string): boolean {
  const parts = path.split("?")[0]!.split("/").filter(Boolean);
  const rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : undefined;
  if (!rest) return false; // /version, /healthz
  if (rest[0] === "namespaces" && rest.length >= 3) return rest.length === 3;
  return rest.length === 1;
}

async function makeDispatcher(kc: KubeConfig): Promise<Dispatcher> {
  // The TLS material (ca, client cert and key, servername) is read once; auth headers, which may
  // rotate, are asked for per request by #authHeaders.
  const opts: Record<string, unknown> = {};
  await kc.applyToHTTPSOptions(opts as never);
  const tls: Record<string, unknown> = {};
  for (const k of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"])
    if (opts[k] !== undefined) tls[k] = opts[k];
  const d = kc.createDispatcherOptions(kc.getCurrentCluster(), tls as never);
  const common = { bodyTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000 };
  switch (d.type) {
    case "agent":
      return new Agent({ ...common, connect: d.connect as never });
    case "proxy":
      return new ProxyAgent({ ...common, uri: d.uri, requestTls: d.requestTls as never });
    case "socks":
      throw new Error("a SOCKS proxy in the kubeconfig is not supported; use an HTTP(S) proxy");
    case "none":
      return new Agent(common);
  }
}

async function errorFrom(res: Response, method: string, path: string): Promise<KubeApiError> {
  const text = await res.text().catch(() => "");
  return new KubeApiError(method, path, res.status, statusFromBody(text));
}

export interface CreateKubeClientOptions extends KubeClientOptions {
  /** Path of a kubeconfig file; without it the in-cluster ServiceAccount is used. */
  kubeconfig?: string;
  /** Context to use instead of the kubeconfig's current-context. */
  context?: string;
}

/** A client from a kubeconfig file, or from the pod's ServiceAccount when none is given. */
export async function createKubeClient(opts: CreateKubeClientOptions = {}): Promise<KubeClient> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (opts.kubeconfig) {
    try {
      kc.loadFromFile(opts.kubeconfig);
    } catch (err) {
      throw new Error(`cannot read the kubeconfig ${opts.kubeconfig}; check the path and its YAML`, {
        cause: err,
      });
    }
    if (opts.context) kc.setCurrentContext(opts.context);
  } else {
    if (!process.env.KUBERNETES_SERVICE_HOST)
      throw new Error(
        "no kubeconfig given and not running in a pod (KUBERNETES_SERVICE_HOST is unset); pass a kubeconfig",
      );
    kc.loadFromCluster();
  }
  return KubeClient.fromKubeConfig(kc, opts);
}
