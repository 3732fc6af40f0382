// A small JSON client for the Kubernetes API used by the node simulator: plain
// REST calls over one undici Agent built from a kubeconfig, plus watches through
// @kubernetes/client-node's Watch. Kept deliberately thin so that the simulator's
// requests (status patches, TokenRequests, deletions with preconditions) read
// exactly like the HTTP calls a kubelet makes.
import { KubeConfig, Watch } from "@kubernetes/client-node";
import { Agent, fetch } from "undici";

export class KubeApiError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(message: string, status: number, body: string) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export class KubeApi {
  readonly kubeconfig: KubeConfig;
  readonly server: string;
  /** PEM of the API server's CA, if the kubeconfig names one. */
  readonly caPem: string | undefined;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;

  private constructor(
    kc: KubeConfig,
    agent: Agent,
    headers: Record<string, string>,
    caPem: string | undefined,
  ) {
    this.kubeconfig = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster)
      throw new Error("kubeconfig has no current cluster; pass a kubeconfig with a current-context");
    this.server = cluster.server.replace(/\/$/, "");
    this.#agent = agent;
    this.#headers = headers;
    this.caPem = caPem;
  }

  static async fromKubeconfig(path: string): Promise<KubeApi> {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const opts: {
      ca?: unknown;
      cert?: unknown;
      key?: unknown;
      headers?: Record<string, unknown>;
      rejectUnauthorized?: boolean;
    } = {};
    await kc.applyToHTTPSOptions(opts as never);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k] = String(v);
    const agent = new Agent({
      connect: {
        ca: opts.ca as string | undefined,
        cert: opts.cert as string | undefined,
        key: opts.key as string | undefined,
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
      },
      // Watches are made by client-node; these are short calls.
      bodyTimeout: 60_000,
      headersTimeout: 60_000,
    });
    const caPem =
      opts.ca === undefined ? undefined : Buffer.from(opts.ca as string | Buffer).toString("utf8");
    return new KubeApi(kc, agent, headers, caPem);
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { ...this.#headers, accept: "application/json" };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/json";
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(url, { method, headers, body, dispatcher: this.#agent });
    const text = await res.text();
    if (res.status >= 300) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {}
      throw new KubeApiError(`${method} ${path}: ${res.status} ${message}`, res.status, text);
    }
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  get<T = unknown>(path: string, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  /** Strategic merge patch unless `contentType` says otherwise. */
  patch<T = unknown>(
    path: string,
    body: unknown,
    contentType = "application/strategic-merge-patch+json",
  ): Promise<T> {
    return this.request<T>("PATCH", path, { body, contentType });
  }

  /**
   * Opens one watch. `onEvent` gets every event (including ERROR objects such as
   * 410 Gone); `onDone` is called once when the stream ends for any reason.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: WatchEventType, obj: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<AbortController> {
    return new Watch(this.kubeconfig).watch(
      path,
      query,
      (type, obj) => onEvent(type as WatchEventType, obj),
      onDone,
    );
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => {});
  }
}

export function isStatus(err: unknown, status: number): boolean {
  return err instanceof KubeApiError && err.status === status;
}
