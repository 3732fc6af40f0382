// List-then-watch cache of one resource type, the way client-go's reflector
// works: list, watch from the list's resourceVersion, remember the last version
// seen (bookmarks included), re-watch from it when the stream ends, and re-list
// (emitting DELETED for objects that vanished meanwhile) on 410 Gone.
import type { Logger } from "@meridian/shared/log";
import type { KubeApi } from "./kube-api.ts";

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export type ReflectorEvent = "ADDED" | "MODIFIED" | "DELETED";

export interface ReflectorOptions<T> {
  api: KubeApi;
  /** Collection path, e.g. `/api/v1/pods`. */
  path: string;
  logger: Logger;
  onEvent: (type: ReflectorEvent, obj: T) => void;
  /** Server-side watch timeout; the stream is reopened after it. */
  timeoutSeconds?: number;
}

export function objectKey(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

export class Reflector<T extends KubeObject> {
  readonly items = new Map<string, T>();
  readonly #opts: ReflectorOptions<T>;
  #resourceVersion = "";
  #abort: AbortController | undefined;
  #stopped = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(opts: ReflectorOptions<T>) {
    this.#opts = opts;
  }

  /** Resolves after the first successful list. */
  async start(): Promise<void> {
    await this.#list();
    this.#watch();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#abort?.abort();
  }

  get(namespace: string, name: string): T | undefined {
    return this.items.get(`${namespace}/${name}`);
  }

  async #list(): Promise<void> {
    const list = await this.#opts.api.get<{ metadata: { resourceVersion: string }; items: T[] }>(
      this.#opts.path,
    );
    const seen = new Set<string>();
    for (const item of list.items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.items.get(key);
      this.items.set(key, item);
      if (!old) this.#opts.onEvent("ADDED", item);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion)
        this.#opts.onEvent("MODIFIED", item);
    }
    for (const [key, old] of [...this.items]) {
      if (!seen.has(key)) {
        this.items.delete(key);
        this.#opts.onEvent("DELETED", old);
      }
    }
    this.#resourceVersion = list.metadata.resourceVersion;
  }

  #watch(): void {
    if (this.#stopped) return;
    let gone = false;
    const query = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: this.#opts.timeoutSeconds ?? 25,
    };
    this.#opts.api
      .watch(
        this.#opts.path,
        query,
        (type, raw) => {
          if (type === "ERROR") {
            const status = raw as { code?: number; message?: string };
            if (status.code === 410) gone = true;
            else this.#opts.logger.warn({ path: this.#opts.path, status }, "watch error event");
            return;
          }
          const obj = raw as T;
          const rv = obj.metadata?.resourceVersion;
          if (rv) this.#resourceVersion = rv;
          if (type === "BOOKMARK") return;
          const key = objectKey(obj);
          if (type === "DELETED") this.items.delete(key);
          else this.items.set(key, obj);
          this.#failures = 0;
          try {
            this.#opts.onEvent(type, obj);
          } catch (err) {
            this.#opts.logger.error({ err, path: this.#opts.path }, "watch handler threw");
          }
        },
        (err) => {
          this.#abort = undefined;
          if (this.#stopped) return;
          const code = (err as { statusCode?: number } | null)?.statusCode;
          if (gone || code === 410) {
            this.#schedule(() => this.#relist(), 0);
          } else if (err && (err as Error).name !== "TimeoutError" && (err as Error).name !== "AbortError") {
            this.#failures++;
            this.#opts.logger.debug({ err, path: this.#opts.path }, "watch ended with an error; reopening");
            this.#schedule(() => this.#watch(), Math.min(200 * 2 ** this.#failures, 5000));
          } else {
            this.#schedule(() => this.#watch(), 0);
          }
        },
      )
      .then(
        (abort) => {
          if (this.#stopped) abort.abort();
          else this.#abort = abort;
        },
        (err) => {
          this.#failures++;
          this.#opts.logger.debug({ err, path: this.#opts.path }, "watch could not start");
          this.#schedule(() => this.#watch(), Math.min(200 * 2 ** this.#failures, 5000));
        },
      );
  }

  #relist(): void {
    this.#list().then(
      () => this.#watch(),
      (err) => {
        this.#failures++;
        this.#opts.logger.debug({ err, path: this.#opts.path }, "re-list failed");
        this.#schedule(() => this.#relist(), Math.min(200 * 2 ** this.#failures, 5000));
      },
    );
  }

  #schedule(fn: () => void, ms: number): void {
    if (this.#stopped) return;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#stopped) fn();
    }, ms);
  }
}
