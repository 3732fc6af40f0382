// The outbound direction: level-based status. `set()` replaces what is pending, so a burst of
// changes becomes one POST of the latest; at most one request is in flight; a heartbeat re-sends
// the latest when nothing changed; a failure retries the latest (never a queue of old ones).
import { EventEmitter } from "node:events";
import { type AgentStatus, paths, type WorkspaceAgentStatus } from "@meridian/shared/protocol/index";
import { Backoff, type BackoffOptions, longBackoffMs } from "../backoff.ts";
import { classify, type FailureKind } from "./errors.ts";
import { type Endpoint, requestJson } from "./http.ts";

export interface StatusReporterEvents {
  /** A status was accepted. `heartbeat`: nothing had changed since the previous send. */
  sent: [{ durationMs: number; heartbeat: boolean }];
  failed: [{ error: Error; kind: FailureKind; reason: string; retryInMs: number }];
}

export interface StatusReporterOptions {
  endpoint: Endpoint;
  /** e.g. `paths.agentStatus(agentId)`. */
  path: string;
  /** Coalescing window after a `set()`. Default 100 ms. */
  debounceMs?: number;
  /** Re-send the latest status this often when nothing changed. Default 10 s. */
  heartbeatMs?: number;
  /** Deadline of one POST. Default 10 s. */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** Delay after a 403 / version mismatch / 400. Default 5 min (±20 %). */
  fatalBackoffMs?: number;
}

type TimerKind = "debounce" | "heartbeat" | "retry";

export class StatusReporter<T> extends EventEmitter<StatusReporterEvents> {
  readonly #o: Required<Omit<StatusReporterOptions, "backoff">>;
  readonly #backoff: Backoff;
  #latest: T | undefined;
  /** The latest has not been accepted yet. */
  #dirty = false;
  #inflight: Promise<void> | undefined;
  /** True exactly while a POST is outstanding (cleared before the next timer is armed). */
  #sending = false;
  #timer: { kind: TimerKind; handle: ReturnType<typeof setTimeout> } | undefined;
  /** The retry wait under way follows a refusal (fatal-backoff-long), not a transient failure. */
  #refused = false;
  #stopped = false;

  constructor(opts: StatusReporterOptions) {
    super();
    this.#o = { debounceMs: 100, heartbeatMs: 10_000, timeoutMs: 10_000, fatalBackoffMs: 300_000, ...opts };
    this.#backoff = new Backoff(opts.backoff);
  }

  /** The status that will be (or was last) sent. */
  get latest(): T | undefined {
    return this.#latest;
  }

  /** Replaces the pending status. Sent within `debounceMs` unless a send or a retry wait is under way. */
  set(status: T): void {
    if (this.#stopped) return;
    this.#latest = status;
    this.#dirty = true;
    if (this.#sending) return; // its completion schedules the next send
    if (this.#timer?.kind === "retry" || this.#timer?.kind === "debounce") return;
    this.#schedule("debounce", this.#o.debounceMs);
  }

  /**
   * The control plane was just reached by another request of this process (its stream connected): a
   * retry wait after a transient failure is cut short and the latest status goes now, so an outage
   * ends for the status when it ends for the stream, not after the rest of a back-off of up to 30 s.
   * A wait after a refusal (401, 403, …) is kept: the stream getting through does not make the
   * status acceptable.
   */
  linkUp(): void {
    if (this.#stopped || this.#timer?.kind !== "retry" || this.#refused) return;
    this.#backoff.reset();
    this.#schedule("debounce", this.#o.debounceMs);
  }

  /**
   * Stops all timers and waits for the request in flight. With `flush`, an unsent latest status is
   * sent once more (bounded by `timeoutMs`); a failure of that last send is emitted, not thrown.
   */
  async stop(opts: { flush?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    this.#clearTimer();
    await this.#inflight;
    if (opts.flush && this.#dirty && this.#latest !== undefined) await this.#send(false);
  }

  #schedule(kind: TimerKind, ms: number): void {
    this.#clearTimer();
    if (this.#stopped) return;
    this.#timer = { kind, handle: setTimeout(() => this.#fire(kind), ms) };
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer.handle);
    this.#timer = undefined;
  }

  #fire(kind: TimerKind): void {
    this.#timer = undefined;
    if (this.#stopped || this.#latest === undefined) return;
    this.#inflight = this.#send(kind === "heartbeat" && !this.#dirty).finally(() => {
      this.#inflight = undefined;
    });
  }

  async #send(heartbeat: boolean): Promise<void> {
    const status = this.#latest;
    this.#dirty = false;
    this.#sending = true;
    const started = performance.now();
    try {
      await requestJson(this.#o.endpoint, { path: this.#o.path, body: status, timeoutMs: this.#o.timeoutMs });
    } catch (err) {
      this.#sending = false;
      this.#dirty = true; // the latest (maybe newer than what failed) still has to go
      const c = classify(err);
      this.#refused = c.kind === "fatal-backoff-long";
      const retryInMs =
        c.kind === "fatal-backoff-long" ? longBackoffMs(this.#o.fatalBackoffMs) : this.#backoff.next();
      this.#schedule("retry", retryInMs);
      this.#emitSafe("failed", { error: err as Error, kind: c.kind, reason: c.reason, retryInMs });
      return;
    }
    this.#sending = false;
    this.#backoff.reset();
    this.#schedule(
      this.#dirty ? "debounce" : "heartbeat",
      this.#dirty ? this.#o.debounceMs : this.#o.heartbeatMs,
    );
    this.#emitSafe("sent", { durationMs: Math.round(performance.now() - started), heartbeat });
  }

  #emitSafe<K extends keyof StatusReporterEvents>(name: K, ...args: StatusReporterEvents[K]): void {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's generic emit signature
      (this.emit as any)(name, ...args);
    } catch {
      // a subscriber's bug must not stop status reporting
    }
  }
}

type ReporterOptions = Omit<StatusReporterOptions, "endpoint" | "path">;

/** Reports `POST /v1/agents/{agentId}/status`. */
export function agentStatusReporter(
  endpoint: Endpoint,
  agentId: string,
  opts: ReporterOptions = {},
): StatusReporter<AgentStatus> {
  return new StatusReporter<AgentStatus>({ ...opts, endpoint, path: paths.agentStatus(agentId) });
}

/** Reports `POST /v1/workspaces/{workspaceId}/status`. */
export function workspaceStatusReporter(
  endpoint: Endpoint,
  workspaceId: string,
  opts: ReporterOptions = {},
): StatusReporter<WorkspaceAgentStatus> {
  return new StatusReporter<WorkspaceAgentStatus>({
    ...opts,
    endpoint,
    path: paths.workspaceStatus(workspaceId),
  });
}
