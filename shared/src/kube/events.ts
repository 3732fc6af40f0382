// Kubernetes Events on the objects Meridian manages (`kubectl describe` shows them). Repeats of
// the same reason and message on the same object within ten minutes bump `count` instead of
// creating a new Event, like client-go's correlator. Recording is best effort: a failure is
// logged, never thrown into a reconcile.
import { F, type Logger } from "../log.ts";
import { type KubeClient, PRIORITY_LOW } from "./client.ts";
import { isNotFound } from "./errors.ts";
import { EVENTS, type KubeObject, resourcePath } from "./resources.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  client: KubeClient;
  /** `source.component` / `reportingComponent`, e.g. `meridian-agent`. */
  component: string;
  /** `reportingInstance`, e.g. the pod name. */
  instance: string;
  logger?: Logger;
  /** Repeats within this window are aggregated; default 10 minutes. */
  aggregateWindowMs?: number;
  /** Entries remembered for aggregation; default 4096. */
  maxRemembered?: number;
  now?: () => number;
}

interface Remembered {
  name: string;
  namespace: string;
  count: number;
  first: string;
  at: number;
}

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #seen = new Map<string, Remembered>();
  readonly #pending = new Set<Promise<void>>();
  readonly #now: () => number;

  constructor(opts: EventRecorderOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Records an Event about `obj`, in the object's namespace; Events about a cluster-scoped object
   * (a Namespace) go into `default`, where `kubectl describe` looks for them (as client-go does).
   * Resolves when written or dropped; never rejects.
   */
  record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const p = this.#record(obj, type, reason, message);
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
    return p;
  }

  /** Resolves when every Event recorded so far is written or dropped. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const ns = meta.namespace || "default";
    const key = `${obj.kind}/${ns}/${meta.name}/${meta.uid ?? ""}/${type}/${reason}/${message}`;
    const nowMs = this.#now();
    const now = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, "Z");
    const window = this.#o.aggregateWindowMs ?? 600_000;
    const prev = this.#seen.get(key);
    try {
      if (prev && nowMs - prev.at < window) {
        prev.count++;
        prev.at = nowMs;
        await this.#o.client.request({
          method: "PATCH",
          path: resourcePath(EVENTS, prev.namespace, prev.name),
          contentType: "application/merge-patch+json",
          body: { count: prev.count, lastTimestamp: now },
          priority: PRIORITY_LOW,
        });
        return;
      }
      const created = await this.#o.client.request<KubeObject>({
        method: "POST",
        path: resourcePath(EVENTS, ns),
        priority: PRIORITY_LOW,
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { generateName: `${meta.name ?? "object"}.`, namespace: ns },
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            resourceVersion: meta.resourceVersion,
          },
          type,
          reason,
          message,
          source: { component: this.#o.component },
          reportingComponent: this.#o.component,
          reportingInstance: this.#o.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      this.#remember(key, {
        name: created.metadata?.name ?? "",
        namespace: ns,
        count: 1,
        first: now,
        at: nowMs,
      });
    } catch (err) {
      if (prev && isNotFound(err)) this.#seen.delete(key);
      this.#o.logger?.debug({ err, [F.reason]: reason, [F.namespace]: ns }, "could not record an event");
    }
  }

  #remember(key: string, r: Remembered): void {
    this.#seen.delete(key);
    this.#seen.set(key, r);
    const max = this.#o.maxRemembered ?? 4096;
    while (this.#seen.size > max) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
  }
}
