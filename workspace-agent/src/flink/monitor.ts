// Polls the JobManager REST API of every deployment that has a JobManager pod, one round every
// `intervalMs`, each call with its deadline; keeps the latest observation per deployment and says
// when one changed in a way that matters (job state or id, TaskManagers, slots, parallelism,
// a new completed, failed or restored checkpoint).
import type { V1Pod } from "@kubernetes/client-node";
import { F, type Logger } from "@meridian/shared/log";
import { PORT_REST, serviceHost } from "./objects.ts";
import { type FlinkObservation, observeFlink } from "./observe.ts";
import { FlinkRestClient } from "./rest.ts";
import { isReady } from "./status.ts";

export interface RestTarget {
  deployment: string;
  namespace: string;
  /** `<deployment>-jobmanager.<namespace>.svc` */
  serviceHost: string;
  jobManagerPod: V1Pod;
}

/** Builds the REST base URL of a deployment's JobManager. */
export type RestUrlBuilder = (t: RestTarget) => string | undefined;

/** `http://<jm-service>.<ns>.svc:8081`: what runs in a cluster. */
export const serviceRestUrl: RestUrlBuilder = (t) => `http://${t.serviceHost}:${PORT_REST}`;

/** `http://<jm-pod-ip>:8081`: for a process outside the cluster network's DNS (in-process tests). */
export const podIpRestUrl: RestUrlBuilder = (t) =>
  t.jobManagerPod.status?.podIP ? `http://${t.jobManagerPod.status.podIP}:${PORT_REST}` : undefined;

export interface FlinkMonitorOptions {
  namespace: string;
  intervalMs: number;
  timeoutMs: number;
  restUrl?: RestUrlBuilder;
  logger: Logger;
  onChange: (deployment: string) => void;
  /** Every REST round trip, for metrics. */
  onRequest?: (outcome: "ok" | "notFound" | "unreachable" | "error") => void;
}

/** A completed checkpoint with its location, as last seen for a deployment's job. */
export interface KnownCheckpoint {
  jobId: string;
  id: number;
  time: string;
  location: string;
}

export class FlinkMonitor {
  readonly #o: FlinkMonitorOptions;
  readonly #jobManagers = new Map<string, V1Pod>();
  readonly #latest = new Map<string, FlinkObservation>();
  /**
   * The newest completed checkpoint seen per deployment, kept when its JobManager goes: what a delete
   * keeps as the final state when the job cannot take a savepoint any more (lifecycle.ts).
   */
  readonly #lastCheckpoint = new Map<string, KnownCheckpoint>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #round: Promise<void> | undefined;

  constructor(opts: FlinkMonitorOptions) {
    this.#o = opts;
  }

  start(): void {
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  /** Tells the monitor which JobManager pod a deployment has now (undefined: none). */
  track(deployment: string, jobManager: V1Pod | undefined): void {
    if (jobManager) this.#jobManagers.set(deployment, jobManager);
    else {
      this.#jobManagers.delete(deployment);
      this.#latest.delete(deployment);
    }
  }

  latest(deployment: string): FlinkObservation | undefined {
    return this.#latest.get(deployment);
  }

  /** The newest completed checkpoint (with a location) seen for the deployment, even if its JobManager is gone. */
  lastCheckpoint(deployment: string): KnownCheckpoint | undefined {
    return this.#lastCheckpoint.get(deployment);
  }

  /** The deployment is gone: nothing of it is kept. */
  forget(deployment: string): void {
    this.track(deployment, undefined);
    this.#lastCheckpoint.delete(deployment);
  }

  /** The REST client of a deployment's JobManager, or undefined while it has no address. */
  client(deployment: string): FlinkRestClient | undefined {
    const pod = this.#jobManagers.get(deployment);
    if (!pod) return undefined;
    const baseUrl = (this.#o.restUrl ?? serviceRestUrl)({
      deployment,
      namespace: this.#o.namespace,
      serviceHost: serviceHost(deployment, this.#o.namespace),
      jobManagerPod: pod,
    });
    return baseUrl
      ? new FlinkRestClient({ baseUrl, timeoutMs: this.#o.timeoutMs, fetch: this.#countingFetch })
      : undefined;
  }

  /** Observes now (the reconciler needs a fresh view before a lifecycle step). */
  async observe(deployment: string): Promise<FlinkObservation> {
    const pod = this.#jobManagers.get(deployment);
    if (!pod) return { job: { state: "NOT_DEPLOYED" } };
    const client = this.client(deployment);
    // A JobManager whose REST port has not passed its readiness probe is not asked: it cannot answer,
    // and polling many starting (or broken) JobManagers would only churn memory and sockets.
    const why =
      pod.status?.phase !== "Running"
        ? `JobManager pod is ${pod.status?.phase ?? "Pending"}`
        : !isReady(pod)
          ? "JobManager is not ready (its REST port does not answer the readiness probe)"
          : !client
            ? "JobManager has no address yet"
            : undefined;
    const obs: FlinkObservation =
      why || !client ? { job: { state: "UNREACHABLE" }, detail: why } : await observeFlink(client);
    if (!this.#jobManagers.has(deployment)) return obs;
    const before = this.#latest.get(deployment);
    this.#latest.set(deployment, obs);
    this.#noteCheckpoint(deployment, obs);
    if (!before || fingerprint(before) !== fingerprint(obs)) {
      this.#o.logger.debug(
        { [F.deployment]: deployment, job: obs.job, detail: obs.detail },
        "Flink observation changed",
      );
      this.#o.onChange(deployment);
    }
    return obs;
  }

  #noteCheckpoint(deployment: string, obs: FlinkObservation): void {
    const c = obs.checkpoints?.latest;
    const jobId = obs.job.id;
    if (!c?.location || !jobId) return;
    const known = this.#lastCheckpoint.get(deployment);
    // By time, not id: a job started again from an older savepoint counts its checkpoints from there.
    if (known && known.jobId === jobId && Date.parse(known.time) > Date.parse(c.time)) return;
    this.#lastCheckpoint.set(deployment, { jobId, id: c.id, time: c.time, location: c.location });
  }

  #countingFetch: typeof fetch = async (input, init) => {
    try {
      const res = await fetch(input, init);
      this.#o.onRequest?.(res.status === 404 ? "notFound" : res.ok ? "ok" : "error");
      return res;
    } catch (err) {
      this.#o.onRequest?.("unreachable");
      throw err;
    }
  };

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#round = this.#pollAll().finally(() => {
        this.#round = undefined;
        this.#schedule();
      });
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  async #pollAll(): Promise<void> {
    await Promise.all(
      [...this.#jobManagers.keys()].map((d) =>
        this.observe(d).catch((err) => this.#o.logger.warn({ [F.deployment]: d, err }, "Flink poll failed")),
      ),
    );
  }
}

function fingerprint(o: FlinkObservation): string {
  const c = o.checkpoints;
  return JSON.stringify([
    o.job.state,
    o.job.id,
    o.job.parallelism,
    o.taskManagers,
    o.slots,
    // A new completed checkpoint, a failure or a restore is news for status; in-progress ones are not.
    c?.latest?.id,
    c?.failed,
    c?.restored?.id,
  ]);
}
