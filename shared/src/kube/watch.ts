// One watch request as an async stream of events. The caller (watch-cache.ts) owns relisting,
// resuming and backoff; this module only turns newline-delimited JSON into typed events and
// notices a silent connection.
import type { KubeClient } from "./client.ts";
import type { KubeStatus } from "./errors.ts";
import { requestSignal } from "./request-signal.ts";
import type { KubeObject } from "./resources.ts";

export type WatchEvent<T extends KubeObject = KubeObject> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  | { type: "BOOKMARK"; object: KubeObject }
  | { type: "ERROR"; object: KubeStatus };

export interface WatchRequest {
  path: string;
  resourceVersion: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** The server ends the watch after this long (a clean end; the caller resumes). */
  timeoutSeconds: number;
  /** Tear the stream down when no byte arrived for this long. */
  idleTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * A server-side watch timeout drawn from 240–360 s, so the watches of many processes (and of one
 * process's caches) do not all end and re-open in step.
 */
export function randomWatchTimeoutSeconds(random: () => number = Math.random): number {
  return 240 + Math.floor(random() * 120);
}

/** Yields the events of one watch until the server ends it, the caller aborts, or it goes silent. */
export async function* watchEvents<T extends KubeObject>(
  client: KubeClient,
  req: WatchRequest,
): AsyncGenerator<WatchEvent<T>> {
  // Our own signal for the idle watchdog, following the caller's (which may already be aborted).
  const ctl = requestSignal(req.signal);
  const { signal } = ctl;
  let idle: NodeJS.Timeout | undefined;
  const resetIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => ctl.abort(new Error("watch went silent")), req.idleTimeoutMs);
    idle.unref();
  };
  try {
    resetIdle();
    const res = await client.openStream(
      req.path,
      {
        watch: true,
        resourceVersion: req.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: req.timeoutSeconds,
        labelSelector: req.labelSelector,
        fieldSelector: req.fieldSelector,
      },
      signal,
    );
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      resetIdle();
      buffered += decoder.decode(chunk, { stream: true });
      // Cut complete lines by index and keep only the tail: re-slicing the buffer after every
      // line would copy a big chunk once per event in it.
      let start = 0;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n", start)) {
        const line = buffered.slice(start, nl).trim();
        start = nl + 1;
        if (line) yield JSON.parse(line) as WatchEvent<T>;
      }
      buffered = buffered.slice(start);
    }
  } catch (err) {
    if (req.signal.aborted) return;
    throw err;
  } finally {
    clearTimeout(idle);
    ctl.abort();
    ctl.dispose();
  }
}
