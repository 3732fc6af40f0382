// The abort signal of one request: it follows the caller's signal (a controller's or a cache's,
// alive for as long as the process leads) and, optionally, a timeout, and lets go of both when the
// request ends. Not AbortSignal.any(): on Node 24 every call that includes a long-lived signal
// leaves memory behind for as long as that signal lives — about 170 bytes when the result has an
// abort listener (fetch adds one), over 1 KB when it has none (nodejs/node#55351, #64476). One
// per Kubernetes request made the agent's heap grow by 0.4–0.6 MB a minute under churn
// (docs/performance.md, "Soak").

export interface RequestSignal {
  readonly signal: AbortSignal;
  /** Aborts this request only (the caller's signal is not touched). */
  abort(reason?: unknown): void;
  /** The request is over: stops following the caller's signal and clears the timer. */
  dispose(): void;
}

/**
 * A signal that aborts when `parent` does (with its reason) or after `timeoutMs` (with a
 * `TimeoutError`, as AbortSignal.timeout's). Call `dispose()` when the request ends.
 */
export function requestSignal(parent: AbortSignal | undefined, timeoutMs?: number): RequestSignal {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener("abort", onAbort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(
          () => ctl.abort(new DOMException(`the request took longer than ${timeoutMs} ms`, "TimeoutError")),
          timeoutMs,
        );
  timer?.unref();
  return {
    signal: ctl.signal,
    abort: (reason) => ctl.abort(reason),
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}
