// The workspace agent's Prometheus metrics (`meridian_workspace_agent_*`) on the shared metrics base,
// which adds the Kubernetes request counter and the process metrics. Components emit typed
// callbacks; only this module knows metric names.
import { ProcessMetrics } from "@meridian/shared/process/metrics";

export class WorkspaceAgentMetrics extends ProcessMetrics {
  readonly reconciles = this.counter("reconciles_total", "Reconciles of a Flink deployment, by outcome.", [
    "outcome",
  ]);
  readonly reconcileSeconds = this.histogram(
    "reconcile_duration_seconds",
    "Duration of one reconcile of a Flink deployment.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly flinkRequests = this.counter(
    "flink_requests_total",
    "Requests to JobManager REST APIs, by outcome (ok, notFound, unreachable, error).",
    ["outcome"],
  );
  readonly lifecycleSteps = this.counter(
    "lifecycle_steps_total",
    "Lifecycle steps recorded, by operation and step.",
    ["operation", "step"],
  );
  readonly deployments = this.gauge("deployments", "Flink deployments reported, by phase.", ["phase"]);
  readonly streamConnected = this.gauge(
    "stream_connected",
    "1 while the workspace stream to the control plane is open.",
  );
  readonly rejectedEvents = this.counter("rejected_events_total", "Stream events refused by validation.");
  readonly statusReports = this.counter(
    "status_reports_total",
    "Status POSTs to the control plane, by outcome (sent, failed).",
    ["outcome"],
  );
  readonly credentialExpiry = this.gauge(
    "credential_expiry_timestamp_seconds",
    "Expiry of the workspace credential in use (Unix seconds).",
  );

  constructor(opts: { processMetrics?: boolean } = {}) {
    // The process metrics stay unprefixed (process_resident_memory_bytes, ...): dashboards read them so.
    super({
      prefix: "meridian_workspace_agent_",
      processMetrics: opts.processMetrics,
      processMetricsPrefix: "",
    });
  }

  setPhases(phases: string[]): void {
    this.deployments.reset();
    for (const p of phases) this.deployments.inc({ phase: p });
  }
}
