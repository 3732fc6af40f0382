// The leader's connection to the control plane and everything that lives exactly as long as it,
// tied to one AbortSignal (the leadership): the stream (its lifetime; inbound.ts applies what
// arrives), the status publisher (outbound.ts), the workspaces' one Controller (workspaces.ts), drift
// watching and the periodic resync. Losing leadership aborts the signal and everything here stops at
// once; giving the Lease up stops it gracefully (reconciles in progress drain first).
import { requestWorkspaceCredential } from "@meridian/shared/controlplane/credentials";
import { MarkGate } from "@meridian/shared/controlplane/replay-mark";
import { agentStream, type StreamClient } from "@meridian/shared/controlplane/stream";
import type { agentEvents, Condition } from "@meridian/shared/protocol/index";
import { DesiredState } from "./desired.ts";
import { clusterMemory, connectInbound } from "./inbound.ts";
import type { ConnectionOptions } from "./options.ts";
import { StatusPublisher } from "./outbound.ts";
import { secretReplayMarks } from "./replay-mark-secret.ts";
import { workspaceBuildContext } from "./workspace/build-context.ts";
import { noticeUnverified } from "./workspace/notices.ts";
import { WorkspaceManager } from "./workspaces.ts";

/**
 * How long a graceful stop waits for reconciles already running: each request has its own timeout,
 * so this only bounds a pathological case within the pod's termination grace period.
 */
const DRAIN_MS = 10_000;

export class ControlPlaneConnection {
  readonly #o: ConnectionOptions;
  readonly #signal: AbortSignal;
  readonly #desired = new DesiredState();
  readonly #workspaces: WorkspaceManager;
  readonly #stream: StreamClient<typeof agentEvents>;
  /** Stores the newest accepted event before what a replay could undo is applied (decision 46). */
  readonly gate: MarkGate;
  readonly #status: StatusPublisher;
  readonly #unsubscribe: (() => void)[] = [];
  #resync: NodeJS.Timeout | undefined;
  #connected = false;
  /** Why no snapshot was accepted yet in this session (status: SnapshotAccepted False). */
  #notAccepted: Condition | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: ConnectionOptions, signal: AbortSignal) {
    this.#o = options;
    this.#signal = signal;
    const now = options.now ?? Date.now;
    const { config } = options;
    const common = { kube: options.kube, caches: options.caches, recorder: options.recorder, now };
    this.#workspaces = new WorkspaceManager({
      desired: this.#desired,
      logger: options.logger,
      metrics: options.metrics,
      concurrency: config.workspaceConcurrency,
      onChange: (id) => this.#status.changed(id ?? "all"),
      apply: {
        ...common,
        policy: config.policy,
        defaultImage: config.workspaceAgentImage,
        build: workspaceBuildContext(config),
        mintCredential: (id) => requestWorkspaceCredential(options.endpoint, config.agentId, id),
      },
      lifecycle: {
        ...common,
        namespacePrefix: config.policy.namespacePrefix,
        orphanGracePeriodMs: config.policy.orphanGracePeriodSeconds * 1000,
        podSecurity: config.policy.podSecurity,
      },
    });
    const marks =
      config.credentialSecret && config.signingPublicKeys.size > 0
        ? secretReplayMarks(options.kube, config.namespace, config.credentialSecret)
        : undefined;
    this.#stream = agentStream(options.endpoint, config.agentId, {
      logger: options.logger,
      signingKeys: config.signingPublicKeys,
      replayMarks: marks,
    });
    const stream = this.#stream;
    this.gate = new MarkGate({
      store: marks,
      newest: () => stream.acceptedMark,
      stored: () => stream.loadedMark,
      resumeAfter: (at, reason) => stream.resumeAfter(at, reason),
      signal,
      logger: options.logger,
    });
    this.#status = new StatusPublisher({
      options,
      workspaces: this.#workspaces,
      stream: this.#stream,
      snapshotSeen: () => this.#desired.snapshotSeen,
      notAccepted: () => this.#notAccepted,
      signal,
    });
    // Lost leadership: stop at once (the signal has already aborted every request).
    signal.addEventListener("abort", () => void this.stop(), { once: true });
  }

  /** True while the stream to the control plane is open. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Starts the stream, status reporting, drift watching and the resync timer. */
  start(): void {
    if (this.#signal.aborted) return;
    const { metrics, caches, config } = this.#o;
    const s = this.#stream;
    s.on("connected", () => {
      this.#connected = true;
      metrics.streamConnected.set(1);
      this.#status.linkUp();
    });
    s.on("disconnected", () => {
      this.#connected = false;
      metrics.streamConnected.set(0);
      metrics.streamReconnects.inc();
    });
    connectInbound({
      stream: s,
      desired: this.#desired,
      cluster: clusterMemory(caches, config.policy.namespacePrefix),
      metrics,
      gate: this.gate,
      signal: this.#signal,
      onChange: (change) => {
        this.#workspaces.accept(change);
        for (const id of change.rejectionChanged) this.#status.changed(id);
        this.#status.changed();
      },
      onRejected: ({ type, error, signature }) => {
        // The latest refusal says why; the time is that of the first.
        if (!this.#desired.snapshotSeen)
          this.#notAccepted = {
            type: "SnapshotAccepted",
            status: "False",
            reason: signature?.reason ?? "EventRefused",
            message: `no snapshot accepted since this agent began leading: event "${type}" was refused: ${error}; nothing is applied and no workspace is reported until a snapshot is accepted`,
            lastTransitionTime: this.#notAccepted?.lastTransitionTime ?? new Date().toISOString(),
          };
        this.#status.changed();
      },
      onUnverified: (refusal) =>
        noticeUnverified(
          { caches, recorder: this.#o.recorder, namespacePrefix: config.policy.namespacePrefix },
          refusal,
        ),
    });
    this.#workspaces.start();
    this.#unsubscribe.push(caches.onChange((id) => this.#workspaces.schedule(id)));
    // A cache re-listed after 410 Gone (an API server or etcd restart, a long outage): every
    // workspace is looked at again and its status rebuilt from the fresh contents, not only those
    // whose objects the re-list found changed (fault campaign finding 1).
    this.#unsubscribe.push(
      caches.onResynced(() => {
        this.#workspaces.scheduleAll();
        this.#status.changed("all");
      }),
    );
    this.#resync = setInterval(() => this.#workspaces.scheduleAll(), config.resyncPeriodMs);
    this.#resync.unref();
    s.start();
    this.#status.start();
  }

  /**
   * Stops everything this leadership started. Idempotent. While the Lease is still ours (a graceful
   * stop), reconciles in progress get up to DRAIN_MS to finish; after it was lost, nothing waits.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      clearInterval(this.#resync);
      for (const u of this.#unsubscribe.splice(0)) u();
      this.#connected = false;
      this.#o.metrics.streamConnected.set(0);
      const drainMs = this.#signal.aborted ? undefined : DRAIN_MS;
      await Promise.allSettled([
        this.#stream.stop(),
        this.#status.stop(),
        this.#workspaces.stop({ drainMs }),
      ]);
    })();
    return this.#stopped;
  }

  /** Re-compares every workspace with the cluster now (what the resync timer does). */
  resync(): void {
    this.#workspaces.scheduleAll();
  }

  /** Resolves when no reconcile is queued or running (tests, benchmark). */
  async idle(): Promise<void> {
    await this.#workspaces.idle();
    await this.#o.recorder.flush();
  }

  /** A snapshot arrived in this leadership session. */
  get snapshotSeen(): boolean {
    return this.#desired.snapshotSeen;
  }

  get desiredCount(): number {
    return this.#desired.size;
  }
}
