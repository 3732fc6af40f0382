// A tiny in-memory API server on loopback for the helpers' unit tests: CRUD with
// resourceVersions (409 on a stale update), list with equality label selectors, watch from a
// resourceVersion with bookmarks, and knobs to force 410 Gone and errors. It is not Kubernetes:
// integration tests use the real API server (test/cluster).
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeClient, type KubeClientOptions } from "./client.ts";
import type { KubeObject } from "./resources.ts";

interface Stored {
  collection: string;
  obj: KubeObject;
}

interface WatchEntry {
  type: string;
  collection: string;
  obj: KubeObject;
  rv: number;
}

export class FakeApiServer {
  readonly objects = new Map<string, Stored>();
  readonly requests: { method: string; path: string }[] = [];
  #rv = 1;
  #history: WatchEntry[] = [];
  #compactedAt = 0;
  #watchers = new Set<{ collection: string; res: ServerResponse; selector: Record<string, string> }>();
  /** Make the next N watch requests answer 410 Gone (as an ERROR event). */
  goneOnNextWatches = 0;
  /** Make the next N watch requests end at once with an ERROR event of this status (not 410). */
  watchErrorOnNext: { count: number; status: number } = { count: 0, status: 500 };
  /** Make the next N requests of any kind answer this status. */
  failNext: { count: number; status: number } = { count: 0, status: 500 };
  /** While true, requests get no answer at all (a partitioned or wedged API server). */
  hang = false;
  #server: Server;
  url = "";

  constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  async start(): Promise<this> {
    this.#server.listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async client(opts: KubeClientOptions = {}): Promise<KubeClient> {
    const auth = { server: this.url, tls: {}, headers: async () => ({ authorization: "Bearer t" }) };
    return new KubeClient(auth, opts);
  }

  async stop(): Promise<void> {
    for (const w of this.#watchers) w.res.end();
    this.#server.closeAllConnections();
    this.#server.close();
  }

  /** Writes an object directly (as another client would) and notifies watchers. */
  put(collection: string, obj: KubeObject): KubeObject {
    const name = obj.metadata?.name ?? "";
    const key = `${collection}/${name}`;
    const type = this.objects.has(key) ? "MODIFIED" : "ADDED";
    const rv = ++this.#rv;
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
    this.objects.set(key, { collection, obj: stored });
    this.#notify({ type, collection, obj: stored, rv });
    return stored;
  }

  remove(collection: string, name: string): boolean {
    const key = `${collection}/${name}`;
    const s = this.objects.get(key);
    if (!s) return false;
    this.objects.delete(key);
    const rv = ++this.#rv;
    this.#notify({
      type: "DELETED",
      collection,
      obj: { ...s.obj, metadata: { ...s.obj.metadata, resourceVersion: String(rv) } },
      rv,
    });
    return true;
  }

  /** Open watch connections. */
  get watchers(): number {
    return this.#watchers.size;
  }

  /** Ends every open watch cleanly, as the API server does at timeoutSeconds. */
  endWatches(): void {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  /** Forgets watch history, so resuming from an old resourceVersion needs a re-list. */
  compact(): void {
    this.#history = [];
    this.#compactedAt = ++this.#rv;
  }

  #notify(e: WatchEntry): void {
    this.#history.push(e);
    for (const w of this.#watchers)
      if (w.collection === e.collection && matches(e.obj, w.selector))
        w.res.write(`${JSON.stringify({ type: e.type, object: e.obj })}\n`);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push({ method: req.method ?? "GET", path: url.pathname });
    let body = "";
    for await (const chunk of req) body += chunk;
    if (this.hang) return;
    if (this.failNext.count > 0) {
      this.failNext.count--;
      return send(res, this.failNext.status, status(this.failNext.status, "InternalError", "injected"));
    }
    const parts = url.pathname.split("/").filter(Boolean);
    const isCollection = parts.length % 2 === (parts[0] === "api" ? 1 : 0);
    const collection = isCollection ? url.pathname : parts.slice(0, -1).join("/").replace(/^/, "/");
    const name = isCollection ? undefined : parts.at(-1);
    const key = `${collection}/${name}`;
    const selector = parseSelector(url.searchParams.get("labelSelector"));
    if (req.method === "GET" && isCollection && url.searchParams.get("watch") === "true")
      return this.#watch(res, collection, Number(url.searchParams.get("resourceVersion") ?? "0"), selector);
    if (req.method === "GET" && isCollection) {
      const items = [...this.objects.values()]
        .filter((s) => s.collection === collection && matches(s.obj, selector))
        .map((s) => s.obj);
      return send(res, 200, { kind: "List", metadata: { resourceVersion: String(this.#rv) }, items });
    }
    const existing = this.objects.get(key);
    const input = body ? (JSON.parse(body) as KubeObject) : undefined;
    switch (req.method) {
      case "GET":
        return existing
          ? send(res, 200, existing.obj)
          : send(res, 404, status(404, "NotFound", `${name} not found`));
      case "POST": {
        const n = input?.metadata?.name ?? `${input?.metadata?.generateName ?? "x-"}${this.#rv}`;
        if (this.objects.has(`${url.pathname}/${n}`))
          return send(res, 409, status(409, "AlreadyExists", `${n} already exists`));
        return send(
          res,
          201,
          this.put(url.pathname, { ...input, metadata: { ...input?.metadata, name: n } }),
        );
      }
      case "PUT":
        if (!existing) return send(res, 404, status(404, "NotFound", `${name} not found`));
        if (input?.metadata?.resourceVersion !== existing.obj.metadata?.resourceVersion)
          return send(res, 409, status(409, "Conflict", "the object has been modified"));
        return send(res, 200, this.put(collection, input!));
      case "PATCH": {
        const merged = {
          ...(existing?.obj ?? {}),
          ...input,
          metadata: { ...existing?.obj.metadata, ...input?.metadata },
        };
        return send(res, existing ? 200 : 201, this.put(collection, merged));
      }
      case "DELETE":
        return this.remove(collection, name ?? "")
          ? send(res, 200, status(200, "", "deleted"))
          : send(res, 404, status(404, "NotFound", `${name} not found`));
    }
    send(res, 405, status(405, "MethodNotAllowed", "no"));
  }

  #watch(res: ServerResponse, collection: string, fromRv: number, selector: Record<string, string>): void {
    res.writeHead(200, { "content-type": "application/json" });
    if (this.goneOnNextWatches > 0 || fromRv < this.#compactedAt) {
      if (this.goneOnNextWatches > 0) this.goneOnNextWatches--;
      res.end(
        `${JSON.stringify({ type: "ERROR", object: status(410, "Expired", "too old resource version") })}\n`,
      );
      return;
    }
    if (this.watchErrorOnNext.count > 0) {
      this.watchErrorOnNext.count--;
      const code = this.watchErrorOnNext.status;
      res.end(`${JSON.stringify({ type: "ERROR", object: status(code, "InternalError", "injected") })}\n`);
      return;
    }
    for (const e of this.#history)
      if (e.rv > fromRv && e.collection === collection && matches(e.obj, selector))
        res.write(`${JSON.stringify({ type: e.type, object: e.obj })}\n`);
    const w = { collection, res, selector };
    this.#watchers.add(w);
    res.on("close", () => this.#watchers.delete(w));
  }
}

function parseSelector(s: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? "").split(",").filter(Boolean)) {
    const [k, v] = part.split("=");
    out[k!] = v ?? "";
  }
  return out;
}

function matches(obj: KubeObject, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => obj.metadata?.labels?.[k] === v);
}

function status(code: number, reason: string, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    status: code < 300 ? "Success" : "Failure",
    code,
    reason,
    message,
  };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
