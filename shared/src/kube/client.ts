// A small Kubernetes REST client: one TLS connection pool, credentials from a kubeconfig or the
// in-cluster ServiceAccount (kubeconfig.ts: exec plugins and rotating token files work), a global
// bound on concurrent requests, and one hook that sees every request (metrics, write counting).
// Watches stream outside the bound (see watch.ts).
import type PQueue from "p-queue";
import { Agent, type Dispatcher, fetch, ProxyAgent } from "undici";
import { KubeApiError, statusFromBody } from "./errors.ts";
import { type ClusterAuth, inClusterAuth, loadKubeconfigFile } from "./kubeconfig.ts";
import { createLimiter } from "./queue.ts";
import { requestSignal } from "./request-signal.ts";
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
  /**
   * Place in the global queue: higher runs first (default 0). Leader election uses
   * PRIORITY_LEASE so a busy reconcile can never starve its renewals; Events use PRIORITY_LOW.
   */
  priority?: number;
}

export const PRIORITY_LEASE = 100;
export const PRIORITY_LOW = -10;

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
}

type Listener = (info: RequestInfo) => void;

export class KubeClient {
  readonly server: string;
  /** The kubeconfig context's namespace (or the pod's), if any. */
  readonly namespace: string | undefined;
  readonly #auth: ClusterAuth;
  readonly #dispatcher: Dispatcher;
  readonly #limiter: PQueue;
  readonly #timeoutMs: number;
  readonly #listeners = new Set<Listener>();

  /** Use `createKubeClient` (kubeconfig path or in-cluster) unless you hold a ClusterAuth. */
  constructor(auth: ClusterAuth, opts: KubeClientOptions = {}) {
    this.server = auth.server.replace(/\/+$/, "");
    this.namespace = auth.namespace;
    this.#auth = auth;
    this.#dispatcher = makeDispatcher(auth);
    this.#limiter = opts.limiter ?? createLimiter(opts.concurrency ?? 8);
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
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
    return this.#limiter.add(
      () => {
        const sent = this.#send<T>(req);
        // If the caller's signal aborts while this runs, the queue rejects at once and stops
        // listening to `sent`; its own (abort) rejection must not become an unhandled one.
        sent.catch(() => {});
        return sent;
      },
      { signal: req.signal, priority: req.priority ?? 0 },
    ) as Promise<{ status: number; body: T }>;
  }

  /** GET one object; undefined when it does not exist. */
  async getOrUndefined<T extends KubeObject>(
    path: string,
    signal?: AbortSignal,
    priority?: number,
  ): Promise<T | undefined> {
    try {
      return await this.request<T>({ method: "GET", path, signal, priority });
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
    const { signal, dispose } = requestSignal(req.signal, req.timeoutMs ?? this.#timeoutMs);
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
      dispose();
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
    return this.#auth.headers();
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

function makeDispatcher(auth: ClusterAuth): Dispatcher {
  const common = { bodyTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000 };
  const tls = { ...auth.tls };
  if (auth.proxyUrl) return new ProxyAgent({ ...common, uri: auth.proxyUrl, requestTls: tls });
  return new Agent({ ...common, connect: tls });
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
  const auth = opts.kubeconfig ? loadKubeconfigFile(opts.kubeconfig, opts.context) : inClusterAuth();
  await auth.headers(); // fail now, not at the first request, if the credential cannot be read
  return new KubeClient(auth, opts);
}
