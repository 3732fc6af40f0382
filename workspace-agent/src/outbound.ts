// The outbound direction: every deployment's status, plus what the stream knows (last event id,
// refused events), as one level-based workspaceAgentStatus handed to the status reporter
// (POST /v1/workspaces/{id}/status), which coalesces bursts, keeps one request in flight and
// re-sends the latest as a heartbeat every `statusIntervalMs`.
import type { Endpoint } from "@meridian/shared/controlplane/http";
import { type StatusReporter, workspaceStatusReporter } from "@meridian/shared/controlplane/reporter";
import { F } from "@meridian/shared/log";
import { compareStrings } from "@meridian/shared/order";
import type { DeploymentStatus, RejectedEvents, WorkspaceAgentStatus } from "@meridian/shared/protocol/index";
import type { ConnectionOptions } from "./options.ts";

/** Where the stream stands (lastEventId, rejectedEvents). */
type StreamPosition = { lastEventId: string | undefined; rejectedEvents: RejectedEvents };

/** Starts the status reporter; `status` is where the controller and inbound report changes. */
export function connectOutbound(
  o: ConnectionOptions,
  endpoint: Endpoint,
  stream: StreamPosition,
): { status: WorkspaceStatus; linkUp(): void; stop(): Promise<void> } {
  const { config, metrics, logger } = o;
  const reporter = workspaceStatusReporter(endpoint, config.workspaceId, {
    heartbeatMs: config.statusIntervalMs,
  });
  reporter.on("sent", () => metrics.statusReports.inc({ outcome: "sent" }));
  reporter.on("failed", ({ reason, retryInMs }) => {
    metrics.statusReports.inc({ outcome: "failed" });
    logger.warn({ [F.reason]: reason, [F.delayMs]: retryInMs }, "status report failed; will retry");
  });
  const status = new WorkspaceStatus({
    workspaceId: config.workspaceId,
    version: o.info.version,
    identity: o.info.identity,
    startedAt: o.info.startedAt,
    reporter,
    stream,
    onPhases: (p) => metrics.setPhases(p),
  });
  return { status, linkUp: () => reporter.linkUp(), stop: () => reporter.stop({ flush: true }) };
}

export interface WorkspaceStatusOptions {
  workspaceId: string;
  version: string;
  identity: string;
  startedAt: Date;
  reporter: StatusReporter<WorkspaceAgentStatus>;
  stream: StreamPosition;
  onPhases?: (phases: string[]) => void;
}

export class WorkspaceStatus {
  readonly #o: WorkspaceStatusOptions;
  readonly #deployments = new Map<string, DeploymentStatus>();
  #scheduled = false;
  #last = "";

  constructor(opts: WorkspaceStatusOptions) {
    this.#o = opts;
  }

  set(name: string, status: DeploymentStatus | undefined): void {
    if (status) this.#deployments.set(name, status);
    else this.#deployments.delete(name);
    this.changed();
  }

  get(name: string): DeploymentStatus | undefined {
    return this.#deployments.get(name);
  }

  /** Coalesces changes within one tick into one `reporter.set`. */
  changed(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      const status = this.snapshot();
      const text = JSON.stringify(status);
      if (text === this.#last) return;
      this.#last = text;
      this.#o.reporter.set(status);
      this.#o.onPhases?.(status.deployments.map((d) => d.phase));
    });
  }

  snapshot(): WorkspaceAgentStatus {
    const s: WorkspaceAgentStatus = {
      workspaceId: this.#o.workspaceId,
      agent: {
        version: this.#o.version,
        identity: this.#o.identity,
        startedAt: this.#o.startedAt.toISOString(),
      },
      deployments: [...this.#deployments.values()].sort((a, b) => compareStrings(a.name, b.name)),
      rejectedEvents: this.#o.stream.rejectedEvents,
    };
    const last = this.#o.stream.lastEventId;
    if (last !== undefined) s.lastEventId = last;
    return s;
  }
}
