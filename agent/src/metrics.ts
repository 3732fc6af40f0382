// The agent's Prometheus metrics, on a registry of its own (two agents in one test process do not
// collide). Components emit; this module only counts. Served at /metrics by health.ts.
import type { RequestInfo } from "@meridian/shared/kube/client";
import { isWriteVerb } from "@meridian/shared/kube/client";
import type { WorkspacePhase } from "@meridian/shared/protocol/index";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class AgentMetrics {
  readonly registry = new Registry();
  readonly reconcileDuration = new Histogram({
    name: "meridian_agent_reconcile_duration_seconds",
    help: "Duration of one workspace reconcile, by outcome (unchanged, applied, refused, failed, orphaned, deleting, deleted).",
    labelNames: ["outcome"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "meridian_agent_reconcile_errors_total",
    help: "Failed workspace reconciles, by reason (Forbidden, Conflict, Timeout, Network, CredentialUnavailable, ...).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly streamReconnects = new Counter({
    name: "meridian_agent_stream_reconnects_total",
    help: "Times the control-plane stream ended and was redialled.",
    registers: [this.registry],
  });
  readonly streamEvents = new Counter({
    name: "meridian_agent_stream_events_total",
    help: "Events received on the control-plane stream, by type (rejected: failed validation).",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });
  readonly workspaces = new Gauge({
    name: "meridian_agent_workspaces",
    help: "Workspaces in the latest status, by phase.",
    labelNames: ["phase"] as const,
    registers: [this.registry],
  });
  readonly kubeRequests = new Counter({
    name: "meridian_agent_kube_requests_total",
    help: "Kubernetes API requests, by verb (get, list, watch, create, apply, patch, update, delete) and HTTP code (0: no answer).",
    labelNames: ["verb", "code"] as const,
    registers: [this.registry],
  });
  readonly kubeWrites = new Counter({
    name: "meridian_agent_kube_write_requests_total",
    help: "Kubernetes API requests that change state (every verb but get, list and watch), by resource (leases: leader election).",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "meridian_agent_leader",
    help: "1 while this replica holds the leader Lease (or runs without leader election).",
    registers: [this.registry],
  });
  readonly streamConnected = new Gauge({
    name: "meridian_agent_stream_connected",
    help: "1 while the leader's control-plane stream is open.",
    registers: [this.registry],
  });
  #writes = 0;

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: "meridian_agent_" });
  }

  /** Hook for KubeClient.onRequest. */
  readonly onKubeRequest = (info: RequestInfo): void => {
    this.kubeRequests.inc({ verb: info.verb, code: String(info.status) });
    if (isWriteVerb(info.verb)) {
      this.#writes++;
      this.kubeWrites.inc({ resource: resourceOf(info.path) });
    }
  };

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
