// The agent's Prometheus metrics (`meridian_agent_*`) on the shared metrics base, which adds the
// Kubernetes request counter and the process metrics. Components emit; this module only counts.
// Served at /metrics by the shared health server.
import type { RequestInfo } from "@meridian/shared/kube/client";
import { isWriteVerb } from "@meridian/shared/kube/client";
import { ProcessMetrics } from "@meridian/shared/process/metrics";
import type { WorkspacePhase } from "@meridian/shared/protocol/index";

export class AgentMetrics extends ProcessMetrics {
  readonly reconcileDuration = this.histogram(
    "reconcile_duration_seconds",
    "Duration of one workspace reconcile, by outcome (unchanged, applied, refused, conflict, failed, terminal, orphaned, deleting, deleted).",
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ["outcome"],
  );
  readonly reconcileErrors = this.counter(
    "reconcile_errors_total",
    "Failed workspace reconciles, by reason (Forbidden, Conflict, Timeout, Network, CredentialUnavailable, ...).",
    ["reason"],
  );
  readonly streamReconnects = this.counter(
    "stream_reconnects_total",
    "Times the control-plane stream ended and was redialled.",
  );
  readonly streamEvents = this.counter(
    "stream_events_total",
    "Events received on the control-plane stream, by type (rejected: failed validation).",
    ["type"],
  );
  readonly workspaces = this.gauge("workspaces", "Workspaces in the latest status, by phase.", ["phase"]);
  readonly kubeWrites = this.counter(
    "kube_write_requests_total",
    "Kubernetes API requests that change state (every verb but get, list and watch), by resource (leases: leader election).",
    ["resource"],
  );
  readonly leader = this.gauge(
    "leader",
    "1 while this replica holds the leader Lease (or runs without leader election).",
  );
  readonly streamConnected = this.gauge(
    "stream_connected",
    "1 while the leader's control-plane stream is open.",
  );
  #writes = 0;

  constructor(opts: { processMetrics?: boolean } = {}) {
    super({ prefix: "meridian_agent_", processMetrics: opts.processMetrics });
  }

  protected override countKubeRequest(info: RequestInfo): void {
    super.countKubeRequest(info);
    if (isWriteVerb(info.verb)) {
      this.#writes++;
      this.kubeWrites.inc({ resource: resourceOf(info.path) });
    }
  }

  /** Write requests sent so far (what the zero-write tests and the benchmark read). */
  get writes(): number {
    return this.#writes;
  }

  setPhases(counts: Partial<Record<WorkspacePhase, number>>): void {
    this.workspaces.reset();
    for (const [phase, n] of Object.entries(counts)) this.workspaces.set({ phase }, n ?? 0);
  }
}

/** The resource (plural) a request path names: `/apis/apps/v1/namespaces/x/deployments/y` → deployments. */
export function resourceOf(path: string): string {
  const parts = path.split("?")[0]!.split("/").filter(Boolean);
  const rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : parts;
  if (rest[0] === "namespaces" && rest.length >= 3) return rest[2]!;
  return rest[0] ?? "unknown";
}
