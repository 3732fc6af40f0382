// Leadership: with leader election on, the replica holding the Lease runs the control-plane
// connection and the workspaces' controller (connection.ts), the others stand by with warm caches.
// The connection lives exactly as long as the leadership signal: losing
// the Lease (renew deadline passed, or another holder seen) aborts it, and with it the stream, the
// queues and every timer. Without leader election the replica leads until it stops.
import type { KubeClient } from "@meridian/shared/kube/client";
import { LeaderElector } from "@meridian/shared/kube/leader-election";
import { F, type Logger } from "@meridian/shared/log";
import type { OwnedCaches } from "./caches.ts";
import type { AgentConfig } from "./config.ts";
import { ControlPlaneConnection } from "./connection.ts";
import type { AgentMetrics } from "./metrics.ts";
import type { ConnectionOptions } from "./options.ts";

export interface LeadershipDeps {
  config: AgentConfig;
  kube: KubeClient;
  caches: OwnedCaches;
  logger: Logger;
  metrics: AgentMetrics;
  connection: ConnectionOptions;
}

export class Leadership {
  readonly #d: LeadershipDeps;
  readonly #ctl = new AbortController();
  readonly #elector: LeaderElector | undefined;
  #leading = false;
  #controller: ControlPlaneConnection | undefined;
  #running: Promise<void> | undefined;

  constructor(deps: LeadershipDeps) {
    this.#d = deps;
    const c = deps.config;
    if (c.leaderElection)
      this.#elector = new LeaderElector({
        client: deps.kube,
        namespace: c.namespace,
        name: c.leaseName,
        identity: c.identity,
        leaseDurationMs: c.leaseDurationMs,
        renewDeadlineMs: c.renewDeadlineMs,
        retryPeriodMs: c.retryPeriodMs,
        logger: deps.logger.child({ [F.module]: "leader-election" }),
      });
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The identity holding the Lease as last seen (ours when leading or without election). */
  get leader(): string | undefined {
    return this.#elector ? this.#elector.leader : this.#d.config.identity;
  }

  get controller(): ControlPlaneConnection | undefined {
    return this.#controller;
  }

  start(stop: AbortSignal): void {
    stop.addEventListener("abort", () => this.#ctl.abort(), { once: true });
    const signal = this.#ctl.signal;
    if (!this.#elector) {
      this.#lead(signal);
      return;
    }
    this.#running = this.#elector.run(
      {
        onStartedLeading: (s) => this.#lead(s),
        onStoppedLeading: (reason) =>
          this.#d.logger.warn(
            { [F.reason]: reason },
            "lost leadership: stopped the stream, queues and timers",
          ),
        onNewLeader: (id) => this.#d.logger.info({ [F.name]: id ?? "(none)" }, "leader changed"),
      },
      signal,
    );
  }

  /**
   * Stops leading (releasing the Lease unless `release` is false) and campaigning. The controller
   * drains first, while the Lease is still ours: a standby that takes over must not start writing
   * while our last reconciles are still landing.
   */
  async stop(opts: { release: boolean }): Promise<void> {
    if (this.#elector) this.#elector.releaseOnCancel = opts.release;
    await this.#controller?.stop();
    this.#ctl.abort();
    await this.#running;
  }

  #lead(signal: AbortSignal): void {
    const { logger, metrics, caches } = this.#d;
    this.#leading = true;
    metrics.leader.set(1);
    signal.addEventListener(
      "abort",
      () => {
        this.#leading = false;
        metrics.leader.set(0);
        const c = this.#controller;
        this.#controller = undefined;
        void c?.stop();
      },
      { once: true },
    );
    void (async () => {
      // Act only on a complete picture of the cluster.
      if (!(await caches.waitForSync(signal)) || signal.aborted) return;
      const controller = new ControlPlaneConnection(this.#d.connection, signal);
      this.#controller = controller;
      controller.start();
      logger.info({ [F.name]: this.#d.config.identity }, "leading: dialling the control plane");
    })().catch((err: unknown) => {
      // A controller that cannot start must not become an unhandled rejection that kills the process.
      logger.error({ [F.err]: err }, "leading, but the workspace controller failed to start");
    });
  }
}
