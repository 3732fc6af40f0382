// The outbound direction: the agent's status document (POST /v1/agents/{id}/status) — identity,
// leader, Kubernetes version, stream position, rejected events, one entry per workspace — built
// level-based from the workspaces' views and handed to the shared status reporter, which debounces,
// keeps one request in flight and re-sends it as a heartbeat. Changes within STATUS_COALESCE_MS
// become one build, and only the workspaces that changed are rebuilt.
import { agentStatusReporter } from "@meridian/shared/controlplane/reporter";
import { F, type Logger } from "@meridian/shared/log";
import type {
  AgentStatus,
  Condition,
  RejectedEvents,
  WorkspacePhase,
  WorkspaceStatus,
} from "@meridian/shared/protocol/index";
import type { AgentInfo, ConnectionOptions } from "./options.ts";
import { ConditionBook, workspaceStatus } from "./workspace/status.ts";
import type { WorkspaceManager } from "./workspaces.ts";

/**
 * Changes within this window become one status build. Status is level-based, so a quarter second
 * costs nothing in correctness and, during a burst of 200 new workspaces, saves hundreds of full
 * rebuilds (and the garbage they leave behind).
 */
const STATUS_COALESCE_MS = 250;

export interface StatusPublisherDeps {
  options: ConnectionOptions;
  workspaces: Pick<WorkspaceManager, "reportedIds" | "view" | "statusSent">;
  /** Where the stream stands (lastEventId, rejectedEvents). */
  stream: { readonly lastEventId: string | undefined; readonly rejectedEvents: RejectedEvents };
  /**
   * Before the first snapshot of the session no workspace is reported; a status goes only once the
   * stream refused something, carrying `SnapshotAccepted` False (a key pinned wrong, a replay).
   */
  snapshotSeen(): boolean;
  /** Why nothing was accepted yet: the first refusal of the session, as a condition. */
  notAccepted(): Condition | undefined;
  signal: AbortSignal;
}

export class StatusPublisher {
  readonly #d: StatusPublisherDeps;
  readonly #reporter: ReturnType<typeof agentStatusReporter>;
  readonly #book = new ConditionBook();
  /** Each workspace's last computed status, rebuilt only when that workspace changed. */
  readonly #entries = new Map<string, WorkspaceStatus>();
  #dirty: Set<string> | "all" = "all";
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: StatusPublisherDeps) {
    this.#d = deps;
    const { endpoint, config } = deps.options;
    this.#reporter = agentStatusReporter(endpoint, config.agentId, { heartbeatMs: config.statusHeartbeatMs });
  }

  start(): void {
    const logger: Logger = this.#d.options.logger;
    this.#reporter.on("sent", () => this.#d.workspaces.statusSent());
    this.#reporter.on("failed", ({ reason, retryInMs }) =>
      logger.warn({ [F.reason]: reason, [F.delayMs]: retryInMs }, "status report failed; retrying"),
    );
    this.changed();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#reporter.stop();
  }

  /** The stream reached the control plane: a status waiting out a back-off goes now (reporter.ts). */
  linkUp(): void {
    this.#reporter.linkUp();
  }

  /**
   * Coalesces bursts of changes into one status build (the reporter debounces the POST as well).
   * `id`: only that workspace's entry changed; "all": any may have; none: only top-level fields.
   */
  changed(id?: string): void {
    if (id === "all") this.#dirty = "all";
    else if (id !== undefined && this.#dirty !== "all") this.#dirty.add(id);
    if (this.#timer || this.#d.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#d.signal.aborted) return;
      if (this.#d.snapshotSeen()) this.#d.options.metrics.setPhases(this.#buildAndSend());
      else this.#sendNotAccepted();
    }, STATUS_COALESCE_MS);
    this.#timer.unref();
  }

  /** Before the first snapshot: no workspace (none is known yet), the refusals, and why. */
  #sendNotAccepted(): void {
    const condition = this.#d.notAccepted();
    if (!condition) return;
    const { status } = buildAgentStatus({
      agent: this.#d.options.agentInfo(),
      lastEventId: this.#d.stream.lastEventId,
      rejectedEvents: this.#d.stream.rejectedEvents,
      workspaces: [],
    });
    this.#reporter.set({ ...status, conditions: [condition] });
  }

  #buildAndSend(): Partial<Record<WorkspacePhase, number>> {
    const now = new Date().toISOString();
    const { workspaces } = this.#d;
    const ids = workspaces.reportedIds();
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
        this.#entries.set(id, workspaceStatus(workspaces.view(id), this.#book, now));
    const { status, phases } = buildAgentStatus({
      agent: this.#d.options.agentInfo(),
      lastEventId: this.#d.stream.lastEventId,
      rejectedEvents: this.#d.stream.rejectedEvents,
      workspaces: this.#entries.values(),
    });
    this.#reporter.set(status);
    return phases;
  }
}

export function buildAgentStatus(input: {
  agent: AgentInfo;
  lastEventId: string | undefined;
  rejectedEvents: RejectedEvents;
  /** Each workspace's status, computed by workspace/status.ts (and reused while unchanged). */
  workspaces: Iterable<WorkspaceStatus>;
}): { status: AgentStatus; phases: Partial<Record<WorkspacePhase, number>> } {
  const workspaces = [...input.workspaces].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const phases: Partial<Record<WorkspacePhase, number>> = {};
  for (const w of workspaces) phases[w.phase] = (phases[w.phase] ?? 0) + 1;
  const status: AgentStatus = {
    agent: input.agent,
    workspaces,
    rejectedEvents: input.rejectedEvents,
    ...(input.lastEventId === undefined ? {} : { lastEventId: input.lastEventId }),
  };
  return { status, phases };
}
