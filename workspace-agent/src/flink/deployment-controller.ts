// The workspace agent's controller of Flink deployments: the shared Controller
// (shared/src/controller/controller.ts: keyed queue, global bound, per-key timers, jittered capped
// back-off, terminal errors not retried, one log line per run) running the deployment reconcile
// (reconcile.ts), keyed by deployment name. Triggers: desired changes (inbound), watch cache
// events, Flink observation changes, a periodic resync, and the reconciles' own requeues.
import { Controller } from "@meridian/shared/controller/controller";
import { F } from "@meridian/shared/log";
import { DeploymentRecords } from "./deployment-record.ts";
import { NameGuard } from "./name-guard.ts";
import { PodBackoff } from "./pods.ts";
import { deploymentReconciler, QUIET_OUTCOMES } from "./reconcile.ts";
import { type DeploymentDeps, type DeploymentOptions, knownNames } from "./reconcile-deps.ts";

/** How long a stop waits for reconciles in progress before aborting them (within the pod's 30 s grace). */
const DRAIN_MS = 10_000;

export interface DeploymentControllerOptions extends DeploymentOptions {
  /** How many deployments reconcile at once. Default 4. */
  concurrency?: number;
  /** After every reconcile (metrics). */
  onReconcile?: (outcome: "ok" | "error", durationMs: number) => void;
}

export class DeploymentController {
  readonly #deps: DeploymentDeps;
  readonly #controller: Controller;
  /** One record per deployment (what the workspace agent remembers between reconciles). */
  readonly records = new DeploymentRecords();

  constructor(opts: DeploymentControllerOptions) {
    this.#deps = { ...opts, names: new NameGuard(opts), podBackoff: new PodBackoff() };
    this.#controller = new Controller({
      reconcile: deploymentReconciler(this.#deps, this.records),
      logger: opts.logger,
      keyField: F.deployment,
      message: "reconciled deployment",
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      quietOutcomes: QUIET_OUTCOMES,
      onRun: (r) => opts.onReconcile?.(r.error ? "error" : "ok", r.durationMs),
    });
  }

  /** Every deployment the controller knows of: desired ones and those with objects in the cluster. */
  knownNames(): string[] {
    return knownNames(this.#deps);
  }

  /**
   * Starts reconciling. Until then enqueue() is a no-op: a reconcile before every watch cache has
   * listed would take a deployment for new and overwrite its persisted lifecycle state.
   */
  start(): void {
    this.#controller.start();
    this.enqueueAll();
  }

  enqueue(name: string): void {
    this.#controller.enqueue(name);
  }

  enqueueAll(): void {
    for (const n of this.knownNames()) this.enqueue(n);
  }

  /** Reconciles `name` again after `ms` (the earliest of several requests wins). */
  enqueueAfter(name: string, ms: number): void {
    this.#controller.enqueueAfter(name, ms);
  }

  /** Reconciles in progress get up to DRAIN_MS to finish (a step half done is resumed after a restart anyway). */
  async stop(): Promise<void> {
    await this.#controller.stop({ drainMs: DRAIN_MS });
  }

  async idle(): Promise<void> {
    await this.#controller.idle();
  }
}
