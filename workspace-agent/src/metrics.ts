// The workspace agent's Prometheus metrics, in a registry of its own (two agents in one test process
// do not share counters). Components emit typed callbacks; only this module knows metric names.
import type { KubeClient } from "@meridian/shared/kube/client";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class WorkspaceAgentMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: "meridian_workspace_agent_reconciles_total",
    help: "Reconciles of a Flink deployment, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: "meridian_workspace_agent_reconcile_duration_seconds",
    help: "Duration of one reconcile of a Flink deployment.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly kubeRequests = new Counter({
    name: "meridian_workspace_agent_kube_requests_total",
    help: "Requests to the Kubernetes API server, by verb and HTTP status (0: no answer).",
    labelNames: ["verb", "code"] as const,
    registers: [this.registry],
  });
  readonly flinkRequests = new Counter({
    name: "meridian_workspace_agent_flink_requests_total",
    help: "Requests to JobManager REST APIs, by outcome (ok, notFound, unreachable, error).",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly lifecycleSteps = new Counter({
    name: "meridian_workspace_agent_lifecycle_steps_total",
    help: "Lifecycle steps recorded, by operation and step.",
    labelNames: ["operation", "step"] as const,
    registers: [this.registry],
  });
  readonly deployments = new Gauge({
    name: "meridian_workspace_agent_deployments",
    help: "Flink deployments reported, by phase.",
    labelNames: ["phase"] as const,
    registers: [this.registry],
  });
  readonly streamConnected = new Gauge({
    name: "meridian_workspace_agent_stream_connected",
    help: "1 while the workspace stream to the control plane is open.",
    registers: [this.registry],
  });
  readonly rejectedEvents = new Counter({
    name: "meridian_workspace_agent_rejected_events_total",
    help: "Stream events refused by validation.",
    registers: [this.registry],
  });
  readonly statusReports = new Counter({
    name: "meridian_workspace_agent_status_reports_total",
    help: "Status POSTs to the control plane, by outcome (sent, failed).",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly credentialExpiry = new Gauge({
    name: "meridian_workspace_agent_credential_expiry_timestamp_seconds",
    help: "Expiry of the workspace credential in use (Unix seconds).",
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  observeKube(client: KubeClient): () => void {
    return client.onRequest((info) => this.kubeRequests.inc({ verb: info.verb, code: String(info.status) }));
  }

  setPhases(phases: string[]): void {
    this.deployments.reset();
    for (const p of phases) this.deployments.inc({ phase: p });
  }
}
