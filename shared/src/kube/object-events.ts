// Kubernetes Events (core/v1) on the objects a process manages, the way `kubectl describe` shows
// them. Repeats of the same reason and message on the same object within ten minutes bump the
// existing Event's count instead of creating a new one. Recording never throws: an Event that
// cannot be written is logged and dropped (RBAC may not allow it; it must not break a reconcile).
import { randomBytes } from "node:crypto";
import { F, type Logger } from "../log.ts";
import type { KubeClient } from "./client.ts";
import { EVENTS, resourcePath } from "./resources.ts";

export interface EventTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
}

export type EventType = "Normal" | "Warning";

export interface ObjectEventRecorderOptions {
  client: KubeClient;
  /** `source.component` and `reportingController`, e.g. `meridian-workspace-agent`. */
  component: string;
  /** `reportingInstance`, e.g. the pod name. */
  instance: string;
  logger?: Logger;
  now?: () => Date;
}

const REPEAT_WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 500;

export class ObjectEventRecorder {
  readonly #o: ObjectEventRecorderOptions;
  readonly #recent = new Map<string, { name: string; count: number; at: number }>();

  constructor(opts: ObjectEventRecorderOptions) {
    this.#o = opts;
  }

  /** Records one Event; resolves when written (or dropped). */
  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const now = (this.#o.now ?? (() => new Date()))();
    const key = `${target.namespace}/${target.kind}/${target.name}/${target.uid ?? ""}/${type}/${reason}/${message}`;
    const seen = this.#recent.get(key);
    try {
      if (seen && now.getTime() - seen.at < REPEAT_WINDOW_MS) {
        seen.count += 1;
        seen.at = now.getTime();
        await this.#o.client.request({
          method: "PATCH",
          path: resourcePath(EVENTS, target.namespace, seen.name),
          contentType: "application/merge-patch+json",
          body: { count: seen.count, lastTimestamp: now.toISOString() },
        });
        return;
      }
      const name = `${target.name}.${now.getTime().toString(16)}${randomBytes(2).toString("hex")}`;
      await this.#o.client.request({
        method: "POST",
        path: resourcePath(EVENTS, target.namespace),
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name, namespace: target.namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            namespace: target.namespace,
            name: target.name,
            ...(target.uid ? { uid: target.uid } : {}),
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.#o.component },
          reportingComponent: this.#o.component,
          reportingInstance: this.#o.instance,
          firstTimestamp: now.toISOString(),
          lastTimestamp: now.toISOString(),
          count: 1,
        },
      });
      this.#remember(key, { name, count: 1, at: now.getTime() });
    } catch (err) {
      this.#recent.delete(key);
      this.#o.logger?.warn(
        { err, [F.kind]: target.kind, [F.name]: target.name, [F.reason]: reason },
        "could not record an Event",
      );
    }
  }

  #remember(key: string, v: { name: string; count: number; at: number }): void {
    this.#recent.set(key, v);
    if (this.#recent.size > MAX_REMEMBERED) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }
}
