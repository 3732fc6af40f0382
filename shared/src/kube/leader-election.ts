// Leader election on a coordination.k8s.io/v1 Lease with optimistic concurrency, after
// client-go's leaderelection: a candidate takes the Lease when its holder has not renewed for
// leaseDuration (measured on the candidate's own clock from when it last saw the record change);
// the leader renews every retryPeriod and gives up when no renew succeeded for renewDeadline,
// or at once when the Lease shows another holder. Losing aborts the signal handed to the leader.
import { jittered, sleep } from "../backoff.ts";
import { F, type Logger } from "../log.ts";
import { type KubeClient, PRIORITY_LEASE } from "./client.ts";
import { isAlreadyExists, isConflict, isNotFound } from "./errors.ts";
import { type KubeObject, LEASES, type ObjectMeta, resourcePath } from "./resources.ts";

export interface Lease extends KubeObject {
  metadata: ObjectMeta;
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** Unique per process, e.g. `<pod name>_<random>`. */
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger?: Logger;
  /** Injectable clock for tests. */
  now?: () => number;
}

export interface LeaderCallbacks {
  /** Called on becoming leader; `signal` aborts the moment leadership is lost or the elector stops. */
  onStartedLeading(signal: AbortSignal): void;
  /** Called after leadership ended (lost or released). */
  onStoppedLeading?(reason: string): void;
  /** Called when the observed holder changes (undefined: nobody holds it). */
  onNewLeader?(identity: string | undefined): void;
}

export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  readonly #now: () => number;
  #observed: Lease | undefined;
  #observedAt = 0;
  #holderExpiresAt = 0;
  #leading = false;
  #holder: string | undefined;
  /** Release the Lease when `run`'s signal aborts (a graceful stop). False imitates a crash. */
  releaseOnCancel = true;

  constructor(opts: LeaderElectionOptions) {
    if (!(opts.leaseDurationMs > opts.renewDeadlineMs))
      throw new Error("leaseDuration must be greater than renewDeadline");
    if (!(opts.renewDeadlineMs > opts.retryPeriodMs))
      throw new Error("renewDeadline must be greater than retryPeriod");
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder last seen on the Lease. */
  get leader(): string | undefined {
    return this.#holder;
  }

  /**
   * Campaigns until `signal` aborts: acquire, lead (renewing) until lost, then campaign again.
   * On abort while leading, the Lease is released so a standby takes over at once.
   */
  async run(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    const log = this.#o.logger;
    while (!signal.aborted) {
      if (!(await this.#acquire(callbacks, signal))) break;
      const lead = new AbortController();
      const onStop = () => lead.abort(new Error("elector stopped"));
      signal.addEventListener("abort", onStop, { once: true });
      this.#leading = true;
      log?.info({ [F.name]: this.#o.name, [F.reason]: "acquired" }, "became leader");
      try {
        callbacks.onStartedLeading(lead.signal);
      } catch (err) {
        log?.error({ err }, "onStartedLeading threw");
      }
      const reason = await this.#renewLoop(callbacks, signal, lead);
      this.#leading = false;
      signal.removeEventListener("abort", onStop);
      if (!lead.signal.aborted) lead.abort(new Error(reason));
      if (signal.aborted && this.releaseOnCancel) await this.release().catch(() => {});
      log?.warn({ [F.name]: this.#o.name, [F.reason]: reason }, "stopped leading");
      callbacks.onStoppedLeading?.(reason);
    }
  }

  /** Gives up the Lease if we hold it (holder cleared, duration 1 s) so another candidate need not wait. */
  async release(): Promise<void> {
    const lease = this.#observed;
    if (!lease || lease.spec?.holderIdentity !== this.#o.identity) return;
    const now = micro(this.#now());
    const released: Lease = {
      ...lease,
      spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
    };
    try {
      this.#record(await this.#put(released));
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  async #acquire(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const ok = await this.#tryAcquireOrRenew(callbacks).catch((err) => {
        this.#o.logger?.warn(
          { err, [F.name]: this.#o.name },
          "leader election: cannot read or write the Lease",
        );
        return false;
      });
      if (ok) return true;
      // Wake at the holder's expiry if that comes before the next regular attempt, so a standby
      // takes over within leaseDuration of the holder's last renewal, not a retry period later.
      const untilExpiry = this.#holderExpiresAt - this.#now();
      const wait = jittered(this.#o.retryPeriodMs, 0, 0.2);
      await sleep(untilExpiry > 0 && untilExpiry < wait ? untilExpiry + 5 : wait, signal);
    }
    return false;
  }

  /**
   * Renews until a renew deadline passes, another holder shows up, or `signal` aborts. Leadership ends
   * no later than renewDeadline after the start of the last renewal that succeeded, however long a
   * request hangs: the start, because the renewTime written is taken then, and a standby counts
   * the Lease's expiry from it.
   */
  async #renewLoop(callbacks: LeaderCallbacks, signal: AbortSignal, lead: AbortController): Promise<string> {
    let lastRenew = this.#now();
    const deadlinePassed = () => {
      lead.abort(new Error("renew deadline passed"));
      return "renew deadline passed";
    };
    while (!signal.aborted) {
      await sleep(this.#o.retryPeriodMs, signal);
      if (signal.aborted) return "elector stopped";
      const started = this.#now();
      const remaining = this.#o.renewDeadlineMs - (started - lastRenew);
      if (remaining <= 0) return deadlinePassed();
      try {
        const ok = await withTimeout(this.#tryAcquireOrRenew(callbacks), remaining);
        if (ok) {
          lastRenew = started;
          continue;
        }
        if (this.#holder !== this.#o.identity) return `the Lease is held by ${this.#holder ?? "nobody"}`;
      } catch (err) {
        this.#o.logger?.warn({ err, [F.name]: this.#o.name }, "leader election: renew failed");
      }
      if (this.#now() - lastRenew >= this.#o.renewDeadlineMs) return deadlinePassed();
    }
    return "elector stopped";
  }

  /** One attempt; true when we hold the Lease afterwards. */
  async #tryAcquireOrRenew(callbacks: LeaderCallbacks): Promise<boolean> {
    const now = this.#now();
    const path = resourcePath(LEASES, this.#o.namespace, this.#o.name);
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    const current = await this.#o.client.getOrUndefined<Lease>(path, undefined, PRIORITY_LEASE);
    if (!current) {
      const fresh: Lease = {
        apiVersion: LEASES.apiVersion,
        kind: LEASES.kind,
        metadata: { name: this.#o.name, namespace: this.#o.namespace },
        spec: {
          holderIdentity: this.#o.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: micro(now),
          renewTime: micro(now),
          leaseTransitions: 0,
        },
      };
      try {
        const created = await this.#o.client.request<Lease>({
          method: "POST",
          path: resourcePath(LEASES, this.#o.namespace),
          body: fresh,
          priority: PRIORITY_LEASE,
        });
        this.#record(created, callbacks);
        return true;
      } catch (err) {
        if (isAlreadyExists(err) || isConflict(err)) return false;
        throw err;
      }
    }
    this.#record(current, callbacks);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity || undefined;
    const mine = holder === this.#o.identity;
    // Like client-go, judge expiry by our own configured duration (the record's is whole seconds).
    this.#holderExpiresAt = this.#expiryBasis(spec.renewTime) + this.#o.leaseDurationMs;
    if (holder && !mine && this.#holderExpiresAt > now) return false;
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: micro(now),
        acquireTime: mine ? spec.acquireTime : micro(now),
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      this.#record(await this.#put(next), callbacks);
      return true;
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) {
        // Someone else wrote first; learn who on the next attempt.
        const seen = await this.#o.client
          .getOrUndefined<Lease>(path, undefined, PRIORITY_LEASE)
          .catch(() => undefined);
        if (seen) this.#record(seen, callbacks);
        return false;
      }
      throw err;
    }
  }

  /**
   * When the holder last renewed, on our clock. The holder's own renewTime is used when it is
   * plausible (not after we saw it change, and at most two retry periods before), which lets a
   * standby take over within leaseDuration of the leader's death; otherwise the time we saw the
   * record change (client-go's rule, immune to clock skew, up to a retry period later).
   */
  #expiryBasis(renewTime: string | undefined): number {
    const renewed = renewTime ? Date.parse(renewTime) : Number.NaN;
    const seen = this.#observedAt;
    // Trusting the holder's clock can move the expiry earlier by at most `window`; the holder stops
    // leading renewDeadline after a renewal, so window ≤ half of (leaseDuration − renewDeadline)
    // keeps the two from overlapping whatever the clock skew.
    const window = Math.min(
      2 * this.#o.retryPeriodMs,
      (this.#o.leaseDurationMs - this.#o.renewDeadlineMs) / 2,
    );
    if (Number.isFinite(renewed) && renewed <= seen && renewed >= seen - window) return renewed;
    return seen;
  }

  #put(lease: Lease): Promise<Lease> {
    return this.#o.client.request<Lease>({
      method: "PUT",
      path: resourcePath(LEASES, this.#o.namespace, this.#o.name),
      body: lease,
      priority: PRIORITY_LEASE,
    });
  }

  /** Remembers the record and when (on our clock) it last changed. */
  #record(lease: Lease, callbacks?: LeaderCallbacks): void {
    const prev = this.#observed;
    if (!prev || prev.metadata.resourceVersion !== lease.metadata.resourceVersion)
      this.#observedAt = this.#now();
    this.#observed = lease;
    const holder = lease.spec?.holderIdentity || undefined;
    if (holder !== this.#holder) {
      this.#holder = holder;
      callbacks?.onNewLeader?.(holder);
    }
  }
}

/** RFC 3339 with microseconds, as metav1.MicroTime expects. */
export function micro(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
