// What the leader runs, all tied to one AbortSignal (the leadership): the control-plane stream
// (inbound), the status reporter (outbound), the per-workspace queues and timers, the periodic
// resync. Losing leadership aborts the signal and everything here stops at once.

import { setTimeout as sleep } from "node:timers/promises";
import { requestWorkspaceCredential } from "@meridian/shared/controlplane/credentials";
import type { Endpoint } from "@meridian/shared/controlplane/http";
import { agentStatusReporter } from "@meridian/shared/controlplane/reporter";
import { agentStream, type StreamClient } from "@meridian/shared/controlplane/stream";
import type { KubeClient } from "@meridian/shared/kube/client";
import type { EventRecorder } from "@meridian/shared/kube/events";
import { KeyedQueue } from "@meridian/shared/kube/queue";
import { NAMESPACES } from "@meridian/shared/kube/resources";
import { F, type Logger } from "@meridian/shared/log";
import type { agentEvents, WorkspacePhase, WorkspaceStatus } from "@meridian/shared/protocol/index";
import type { OwnedCaches } from "./caches.ts";
import type { AgentConfig } from "./config.ts";
import { type ClusterMemory, DesiredState } from "./inbound.ts";
import type { AgentMetrics } from "./metrics.ts";
import { type AgentInfo, buildAgentStatus } from "./report.ts";
import { workspaceBuildContext } from "./workspace/build-context.ts";
import { namespaceName, recordedGeneration } from "./workspace/objects.ts";
import { ConditionBook, workspaceStatus } from "./workspace/status.ts";
import { WorkspaceManager } from "./workspaces.ts";

/**
 * How long stopping waits for reconciles already running: each request has its own timeout, so this
 * only bounds a pathological case within the pod's termination grace period.
 */
const DRAIN_MS = 10_000;

/**
 * Changes within this window become one status build. Status is level-based, so a quarter second
 * costs nothing in correctness and, during a burst of 200 new workspaces, saves hundreds of full
 * rebuilds (and the garbage they leave behind).
 */
const STATUS_COALESCE_MS = 250;

export interface ControllerDeps {
  config: AgentConfig;
  kube: KubeClient;
  caches: OwnedCaches;
  recorder: EventRecorder;
  metrics: AgentMetrics;
  logger: Logger;
  endpoint: Endpoint;
  /** Identity, leader and Kubernetes version, read at each status build. */
  agentInfo(): AgentInfo;
  now?: () => number;
}

export class WorkspaceController {
  readonly #d: ControllerDeps;
  readonly #signal: AbortSignal;
  readonly #desired = new DesiredState();
  readonly #book = new ConditionBook();
  readonly #queue: KeyedQueue;
  readonly #manager: WorkspaceManager;
  readonly #stream: StreamClient<typeof agentEvents>;
  readonly #reporter: ReturnType<typeof agentStatusReporter>;
  readonly #unsubscribe: (() => void)[] = [];
  #resync: NodeJS.Timeout | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #connected = false;
  /** Each workspace's last computed status, rebuilt only when that workspace changed. */
  readonly #entries = new Map<string, WorkspaceStatus>();
  #dirty: Set<string> | "all" = "all";
  #stopped: Promise<void> | undefined;

  constructor(deps: ControllerDeps, signal: AbortSignal) {
    this.#d = deps;
    this.#signal = signal;
    const now = deps.now ?? Date.now;
    const { config } = deps;
    this.#queue = new KeyedQueue({ concurrency: config.workspaceConcurrency });
    this.#manager = new WorkspaceManager({
      desired: this.#desired,
      queue: this.#queue,
      logger: deps.logger,
      metrics: deps.metrics,
      signal,
      onChange: (id) => this.#statusChanged(id ?? "all"),
      reconcile: {
        kube: deps.kube,
        caches: deps.caches,
        recorder: deps.recorder,
        policy: config.policy,
        defaultImage: config.workspaceAgentImage,
        build: workspaceBuildContext(config),
        mintCredential: (id) => requestWorkspaceCredential(deps.endpoint, config.agentId, id),
        now,
      },
      lifecycle: {
        kube: deps.kube,
        caches: deps.caches,
        recorder: deps.recorder,
        namespacePrefix: config.policy.namespacePrefix,
        orphanGracePeriodMs: config.policy.orphanGracePeriodSeconds * 1000,
        now,
      },
    });
    this.#stream = agentStream(deps.endpoint, config.agentId, { logger: deps.logger });
    this.#reporter = agentStatusReporter(deps.endpoint, config.agentId, {
      heartbeatMs: config.statusHeartbeatMs,
    });
    signal.addEventListener("abort", () => void this.stop(), { once: true });
  }

  /** True while the stream to the control plane is open. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Starts the stream, status reporting, drift watching and the resync timer. */
  start(): void {
    if (this.#signal.aborted) return;
    const { metrics, logger } = this.#d;
    const s = this.#stream;
    s.on("connected", () => {
      this.#connected = true;
      metrics.streamConnected.set(1);
    });
    s.on("disconnected", () => {
      this.#connected = false;
      metrics.streamConnected.set(0);
      metrics.streamReconnects.inc();
    });
    s.on("rejected", () => {
      metrics.streamEvents.inc({ type: "rejected" });
      this.#statusChanged();
    });
    s.on("snapshot", ({ event }) => this.#onEvent(event));
    s.on("event", ({ event }) => this.#onEvent(event));
    this.#reporter.on("sent", () => this.#manager.statusSent());
    this.#reporter.on("failed", ({ reason, retryInMs }) =>
      logger.warn({ [F.reason]: reason, [F.delayMs]: retryInMs }, "status report failed; retrying"),
    );
    this.#unsubscribe.push(this.#d.caches.onChange((id) => this.#manager.schedule(id)));
    this.#resync = setInterval(() => this.#manager.scheduleAll(), this.#d.config.resyncPeriodMs);
    this.#resync.unref();
    s.start();
    this.#statusChanged();
  }

  /** Stops everything this leadership started. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      clearInterval(this.#resync);
      clearTimeout(this.#statusTimer);
      for (const u of this.#unsubscribe.splice(0)) u();
      this.#queue.close();
      this.#manager.stop();
      this.#connected = false;
      this.#d.metrics.streamConnected.set(0);
      await Promise.allSettled([this.#stream.stop(), this.#reporter.stop(), this.#drain()]);
    })();
    return this.#stopped;
  }

  /** Waits for reconciles in progress to finish (runs not yet started were cancelled), at most DRAIN_MS. */
  async #drain(): Promise<void> {
    const timer = new AbortController();
    await Promise.race([
      this.#queue.onIdle(),
      sleep(DRAIN_MS, undefined, { signal: timer.signal }).catch(() => {}),
    ]);
    timer.abort();
  }

  /** Re-compares every workspace with the cluster now (what the resync timer does). */
  resync(): void {
    this.#manager.scheduleAll();
  }

  /** Resolves when no reconcile is queued or running (tests, benchmark). */
  async idle(): Promise<void> {
    await this.#queue.onIdle();
    await this.#d.recorder.flush();
  }

  /** A snapshot arrived in this leadership session. */
  get snapshotSeen(): boolean {
    return this.#desired.snapshotSeen;
  }

  get desiredCount(): number {
    return this.#desired.size;
  }

  #onEvent(event: Parameters<DesiredState["apply"]>[0]): void {
    if (this.#signal.aborted) return;
    this.#d.metrics.streamEvents.inc({ type: event.type });
    const effects = this.#desired.apply(event, this.#cluster);
    for (const reason of effects.refusals) this.#stream.refuse(event.type, event.id, reason);
    this.#manager.adopt(effects.adopted);
    this.#manager.markOrphanCandidates(effects.orphanCandidates);
    for (const id of effects.reconcile) this.#manager.schedule(id);
    for (const id of effects.rejectionChanged) this.#statusChanged(id);
    this.#statusChanged();
  }

  /** What the cluster remembers across restarts: namespaces, and the generation recorded on each. */
  readonly #cluster: ClusterMemory = {
    ids: () => this.#d.caches.workspaceIdsInCluster(),
    generation: (id) =>
      recordedGeneration(
        this.#d.caches.get(NAMESPACES, undefined, namespaceName(this.#d.config.policy.namespacePrefix, id)),
      ),
  };

  /**
   * Coalesces bursts of changes into one status build (the reporter debounces the POST as well).
   * `id`: only that workspace's entry changed; "all": any may have; none: only top-level fields.
   */
  #statusChanged(id?: string): void {
    if (id === "all") this.#dirty = "all";
    else if (id !== undefined && this.#dirty !== "all") this.#dirty.add(id);
    if (this.#statusTimer || this.#signal.aborted) return;
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      if (this.#signal.aborted || !this.#desired.snapshotSeen) return;
      this.#d.metrics.setPhases(this.#buildAndSend());
    }, STATUS_COALESCE_MS);
    this.#statusTimer.unref();
  }

  #buildAndSend(): Partial<Record<WorkspacePhase, number>> {
    const now = new Date().toISOString();
    const ids = this.#manager.reportedIds();
    const dirty = this.#dirty;
    this.#dirty = new Set();
    const keep = new Set(ids);
    for (const id of this.#entries.keys())
      if (!keep.has(id)) {
        this.#entries.delete(id);
        this.#book.forget(id);
      }
    for (const id of ids)
      if (dirty === "all" || dirty.has(id) || !this.#entries.has(id))
        this.#entries.set(id, workspaceStatus(this.#manager.view(id), this.#book, now));
    const { status, phases } = buildAgentStatus({
      agent: this.#d.agentInfo(),
      lastEventId: this.#stream.lastEventId,
      rejectedEvents: this.#stream.rejectedEvents,
      workspaces: this.#entries.values(),
    });
    this.#reporter.set(status);
    return phases;
  }
}
