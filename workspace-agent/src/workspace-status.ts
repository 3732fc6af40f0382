// The outbound direction: every deployment's status, plus what the stream knows (last event id,
// refused events), as one level-based workspaceAgentStatus handed to the StatusReporter, which
// coalesces bursts and re-sends the latest as a heartbeat.
import type { StatusReporter } from "@meridian/shared/controlplane/reporter";
import { compareStrings } from "@meridian/shared/order";
import type { DeploymentStatus, RejectedEvents, WorkspaceAgentStatus } from "@meridian/shared/protocol/index";

export interface WorkspaceStatusOptions {
  workspaceId: string;
  version: string;
  identity: string;
  startedAt: Date;
  reporter: StatusReporter<WorkspaceAgentStatus>;
  stream: { lastEventId: string | undefined; rejectedEvents: RejectedEvents };
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
