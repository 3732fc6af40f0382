// The metrics base of every Meridian process: a registry of its own (two agents in one test process
// do not share counters), metric names under the process's prefix, the Kubernetes request counter
// every process has (`<prefix>kube_requests_total{verb,code}`), and Node's process metrics.
// A process subclasses it with its own metrics; components emit, only the subclass knows names.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RequestInfo } from "../kube/client.ts";

export interface ProcessMetricsOptions {
  /** Every metric's name starts with it, e.g. `meridian_agent_`. */
  prefix: string;
  /** Node's process metrics (CPU, memory, GC); default true. Off when several processes share one. */
  processMetrics?: boolean;
  /**
   * Prefix of the process metrics; default `prefix`. The workspace agent's are unprefixed
   * (`process_resident_memory_bytes`) because dashboards read them so.
   */
  processMetricsPrefix?: string;
}

export class ProcessMetrics {
  readonly registry = new Registry();
  readonly prefix: string;
  readonly kubeRequests: Counter<"verb" | "code">;

  constructor(opts: ProcessMetricsOptions) {
    this.prefix = opts.prefix;
    this.kubeRequests = this.counter(
      "kube_requests_total",
      "Kubernetes API requests, by verb (get, list, watch, create, apply, patch, update, delete) and HTTP code (0: no answer).",
      ["verb", "code"],
    );
    if (opts.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: opts.processMetricsPrefix ?? opts.prefix });
  }

  /** Hook for `KubeClient.onRequest`. */
  readonly onKubeRequest = (info: RequestInfo): void => this.countKubeRequest(info);

  /** What one Kubernetes request counts; a process extends it (calling super). */
  protected countKubeRequest(info: RequestInfo): void {
    this.kubeRequests.inc({ verb: info.verb, code: String(info.status) });
  }

  protected counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
    return new Counter<L>({ name: this.prefix + name, help, labelNames, registers: [this.registry] });
  }

  protected gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
    return new Gauge<L>({ name: this.prefix + name, help, labelNames, registers: [this.registry] });
  }

  protected histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ) {
    return new Histogram<L>({
      name: this.prefix + name,
      help,
      buckets,
      labelNames,
      registers: [this.registry],
    });
  }
}
