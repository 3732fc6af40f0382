// One in-memory cache per resource kind: list, then watch from the list's resourceVersion,
// resume after a clean end, re-list after 410 Gone, back off on errors. Readers get objects
// from memory; listeners hear every change (including deletions a re-list discovers) and every
// complete list, so what was decided from stale contents is decided again after a re-list.
import { type BackoffPolicy, backoffDelay, sleep } from "../backoff.ts";
import { F, type Logger } from "../log.ts";
import type { KubeClient } from "./client.ts";
import { isGone, KubeApiError } from "./errors.ts";
import {
  type KubeList,
  type KubeObject,
  keyOf,
  objectKey,
  type ResourceType,
  resourcePath,
} from "./resources.ts";
import { randomWatchTimeoutSeconds, watchEvents } from "./watch.ts";

export type CacheEventType = "added" | "modified" | "deleted";

export interface CacheEvent<T> {
  type: CacheEventType;
  object: T;
  /** The previous object, for `modified`. */
  old?: T;
}

export interface WatchCacheOptions {
  client: KubeClient;
  type: ResourceType;
  /** Watch one namespace; all namespaces (or cluster-scoped) when undefined. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger?: Logger;
  /** Items per list page; default 500. */
  pageSize?: number;
  /** Server-side watch timeout; default a random 240–360 s so caches do not re-watch in step. */
  watchTimeoutSeconds?: number;
  backoff?: BackoffPolicy;
  /**
   * Applied to every object before it is stored, e.g. to drop `metadata.managedFields` (often
   * half of an object's size) when nothing reads it.
   */
  transform?: (obj: KubeObject) => KubeObject;
}

type Listener<T> = (event: CacheEvent<T>) => void;

/** A complete list was stored: the first (`relist` false), or one after 410 Gone. */
export type ListedListener = (info: { relist: boolean }) => void;

export class WatchCache<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;
  readonly #opts: WatchCacheOptions;
  readonly #store = new Map<string, T>();
  readonly #listeners = new Set<Listener<T>>();
  readonly #listedListeners = new Set<ListedListener>();
  readonly #ctl = new AbortController();
  #synced = false;
  #current = false;
  #syncWaiters: (() => void)[] = [];
  #resourceVersion: string | undefined;
  #running: Promise<void> | undefined;
  /** Number of full lists done (1 after the first sync; more after 410s). */
  lists = 0;

  constructor(opts: WatchCacheOptions) {
    this.type = opts.type;
    this.#opts = opts;
  }

  /** Starts listing and watching in the background; `stop()` or `signal` ends it. */
  start(signal?: AbortSignal): this {
    if (this.#running) return this;
    signal?.addEventListener("abort", () => this.stop(), { once: true });
    this.#running = this.#loop();
    return this;
  }

  /** Ends the watch; the cache keeps its last contents. */
  async stop(): Promise<void> {
    this.#ctl.abort();
    await this.#running;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Listed and watching from that list: false before the first list completes, and again from a
   * 410 Gone (changes were missed, the contents are stale) until the re-list completes. `synced`
   * stays true meanwhile: the contents are complete, only old.
   */
  get current(): boolean {
    return this.#current;
  }

  /** Resolves after the first complete list; resolves early (false) if `signal` aborts. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      });
    });
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#store.get(objectKey(this.type.namespaced ? namespace : undefined, name));
  }

  list(filter?: (obj: T) => boolean): T[] {
    const all = [...this.#store.values()];
    return filter ? all.filter(filter) : all;
  }

  get size(): number {
    return this.#store.size;
  }

  /** Hears every change after it is in the cache; returns the unsubscribe function. */
  on(listener: Listener<T>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Hears every complete list, after the change events it caused: what was decided from the stale
   * contents before a re-list must be decided again (a re-list reports only objects that differ).
   */
  onListed(listener: ListedListener): () => void {
    this.#listedListeners.add(listener);
    return () => this.#listedListeners.delete(listener);
  }

  async #loop(): Promise<void> {
    const signal = this.#ctl.signal;
    const backoff = this.#opts.backoff ?? { baseMs: 200, capMs: 30_000 };
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === undefined) await this.#relist(signal);
        await this.#watch(signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          this.#resourceVersion = undefined;
          this.#current = false;
          this.#opts.logger?.info({ [F.kind]: this.type.kind }, "watch expired (410 Gone); re-listing");
          continue;
        }
        const delayMs = backoffDelay(failures++, backoff);
        this.#opts.logger?.warn(
          { [F.kind]: this.type.kind, err, [F.attempt]: failures, [F.delayMs]: delayMs },
          "list/watch failed; retrying",
        );
        await sleep(delayMs, signal);
      }
    }
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page: KubeList<T> = await this.#opts.client.request<KubeList<T>>({
        method: "GET",
        path: resourcePath(this.type, this.#opts.namespace),
        query: {
          labelSelector: this.#opts.labelSelector,
          fieldSelector: this.#opts.fieldSelector,
          limit: this.#opts.pageSize ?? 500,
          continue: cont,
        },
        signal,
      });
      for (const item of page.items) fresh.set(keyOf(item), this.#withKind(item));
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    const previous = new Map(this.#store);
    this.#store.clear();
    for (const [k, obj] of fresh) this.#store.set(k, obj);
    this.#resourceVersion = rv;
    this.lists++;
    for (const [k, old] of previous) if (!fresh.has(k)) this.#emit({ type: "deleted", object: old });
    for (const [k, obj] of fresh) {
      const old = previous.get(k);
      if (!old) this.#emit({ type: "added", object: obj });
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.#emit({ type: "modified", object: obj, old });
    }
    const relist = this.#synced;
    this.#current = true;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    for (const l of this.#listedListeners) {
      try {
        l({ relist });
      } catch (err) {
        this.#opts.logger?.error({ [F.kind]: this.type.kind, err }, "cache listener threw");
      }
    }
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const timeoutSeconds = this.#opts.watchTimeoutSeconds ?? randomWatchTimeoutSeconds();
    const events = watchEvents<T>(this.#opts.client, {
      path: resourcePath(this.type, this.#opts.namespace),
      resourceVersion: this.#resourceVersion ?? "0",
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      timeoutSeconds,
      idleTimeoutMs: (timeoutSeconds + 30) * 1000,
      signal,
    });
    for await (const ev of events) {
      if (ev.type === "ERROR") {
        const code = ev.object.code ?? 500;
        throw new KubeApiError("WATCH", resourcePath(this.type), code, ev.object);
      }
      const rv = ev.object.metadata?.resourceVersion;
      if (ev.type === "BOOKMARK") {
        if (rv) this.#resourceVersion = rv;
        continue;
      }
      const obj = this.#withKind(ev.object);
      const key = keyOf(obj);
      const old = this.#store.get(key);
      if (ev.type === "DELETED") {
        this.#store.delete(key);
        this.#emit({ type: "deleted", object: obj });
      } else {
        this.#store.set(key, obj);
        this.#emit(old ? { type: "modified", object: obj, old } : { type: "added", object: obj });
      }
      if (rv) this.#resourceVersion = rv;
    }
  }

  /** List items come without apiVersion/kind; fill them so cached objects are self-describing. */
  #withKind(obj: T): T {
    const t = this.#opts.transform ? (this.#opts.transform(obj) as T) : obj;
    if (t.kind && t.apiVersion) return t;
    return { ...t, apiVersion: this.type.apiVersion, kind: this.type.kind };
  }

  #emit(event: CacheEvent<T>): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#opts.logger?.error({ [F.kind]: this.type.kind, err }, "cache listener threw");
      }
    }
  }
}

/**
 * A `transform` for caches whose readers never look at `metadata.managedFields`: neither agent does,
 * and on objects written with server-side apply they are about half of what a cache holds.
 */
export function dropManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}
