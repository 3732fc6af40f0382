// The status a kubelet would report for a simulated pod, computed from the
// pod's container runners. Pure apart from the condition transition times it
// remembers, so repeated calls with unchanged state yield identical objects
// (the worker only PATCHes when the JSON differs).
import type { V1ContainerState, V1ContainerStatus, V1Pod, V1PodStatus } from "@kubernetes/client-node";
import type { Logger } from "@meridian/shared/log";
import type { ContainerRunner } from "./container-runner.ts";
import { isStatus, type KubeApi } from "./kube-api.ts";
import { rfc3339 } from "./nodes.ts";

export interface PodSnapshot {
  pod: V1Pod;
  podIP: string;
  hostIP: string;
  startTime: string;
  /** Volumes and tokens are in place (the "sandbox" is ready). */
  prepared: boolean;
  initialized: boolean;
  /** An init container failed for good (restartPolicy Never): the pod is Failed. */
  initFailed: boolean;
  initRunners: ContainerRunner[];
  runners: ContainerRunner[];
  /** The pod is being torn down: every runner stopped or stopping. */
  terminating: boolean;
}

function iso(d: unknown): string | undefined {
  if (d === undefined || d === null) return undefined;
  return rfc3339(d instanceof Date ? d : new Date(String(d)));
}

function stateJson(s: V1ContainerState): V1ContainerState {
  if (s.running) return { running: { startedAt: iso(s.running.startedAt) as never } };
  if (s.terminated) {
    const t = s.terminated;
    return {
      terminated: {
        exitCode: t.exitCode,
        reason: t.reason,
        ...(t.message ? { message: t.message } : {}),
        startedAt: iso(t.startedAt) as never,
        finishedAt: iso(t.finishedAt) as never,
      },
    };
  }
  if (s.waiting) return { waiting: { ...s.waiting } };
  return {};
}

function containerStatus(r: ContainerRunner, podUid: string): V1ContainerStatus {
  const running = r.state.running !== undefined;
  return {
    name: r.name,
    image: r.container.image ?? "",
    imageID: `sim://${r.container.image ?? ""}`,
    ...(running || r.state.terminated ? { containerID: `sim://${podUid}/${r.name}/${r.restartCount}` } : {}),
    ready: r.ready,
    started: r.started,
    restartCount: r.restartCount,
    state: stateJson(r.state),
    lastState: stateJson(r.lastState),
  };
}

export class PodStatusBuilder {
  readonly #transitions = new Map<string, { status: string; time: string }>();

  #cond(type: string, ok: boolean, reason?: string) {
    const status = ok ? "True" : "False";
    const prev = this.#transitions.get(type);
    const time = prev && prev.status === status ? prev.time : rfc3339();
    this.#transitions.set(type, { status, time });
    return { type, status, lastProbeTime: null, lastTransitionTime: time, ...(reason ? { reason } : {}) };
  }

  build(s: PodSnapshot): Record<string, unknown> {
    const uid = s.pod.metadata?.uid ?? "";
    const all = s.runners;
    const allReady = s.initialized && all.length > 0 && all.every((r) => r.ready);
    const phase = podPhase(s);
    const scheduledTime = s.pod.status?.conditions?.find(
      (c) => c.type === "PodScheduled",
    )?.lastTransitionTime;
    if (scheduledTime && !this.#transitions.has("PodScheduled")) {
      this.#transitions.set("PodScheduled", { status: "True", time: iso(scheduledTime)! });
    }
    const notReadyReason =
      phase === "Succeeded" || phase === "Failed" ? "PodCompleted" : "ContainersNotReady";
    return {
      phase,
      hostIP: s.hostIP,
      hostIPs: [{ ip: s.hostIP }],
      ...(s.prepared ? { podIP: s.podIP, podIPs: [{ ip: s.podIP }] } : {}),
      startTime: s.startTime,
      qosClass: s.pod.status?.qosClass,
      conditions: [
        this.#cond("PodReadyToStartContainers", s.prepared && !s.terminating),
        this.#cond("Initialized", s.initialized, s.initialized ? undefined : "ContainersNotInitialized"),
        this.#cond("Ready", allReady, allReady ? undefined : notReadyReason),
        this.#cond("ContainersReady", allReady, allReady ? undefined : notReadyReason),
        this.#cond("PodScheduled", true),
      ],
      ...(s.initRunners.length > 0
        ? { initContainerStatuses: s.initRunners.map((r) => containerStatus(r, uid)) }
        : {}),
      containerStatuses: all.map((r) => containerStatus(r, uid)),
    };
  }
}

export function podPhase(s: PodSnapshot): "Pending" | "Running" | "Succeeded" | "Failed" {
  if (s.initFailed) return "Failed";
  if (!s.initialized) return "Pending";
  const runners = s.runners;
  if (runners.length > 0 && runners.every((r) => r.finished && r.state.terminated)) {
    return runners.every((r) => r.succeeded) ? "Succeeded" : "Failed";
  }
  const everRan = runners.some((r) => r.state.running || r.state.terminated || r.restartCount > 0);
  return everRan ? "Running" : "Pending";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The phase and every condition sent hold as sent (what readiness and controllers read). */
function sameSummary(sent: V1PodStatus, now: V1PodStatus | undefined): boolean {
  if (sent.phase !== now?.phase) return false;
  return (sent.conditions ?? []).every((c) =>
    now?.conditions?.some((o) => o.type === c.type && o.status === c.status),
  );
}

/**
 * PATCHes pods/status (strategic merge) whenever the computed status changes: one request in
 * flight, later changes coalesced into the next one, failures retried after 1 s, and nothing
 * more once the pod is gone (404) or `disable()` was called.
 */
export class StatusReporter {
  readonly #builder = new PodStatusBuilder();
  readonly #api: KubeApi;
  readonly #path: string;
  readonly #snapshot: () => PodSnapshot;
  readonly #log: Logger;
  #enabled = true;
  #lastSent = "";
  #sending: Promise<void> | undefined;
  #dirty = false;

  constructor(api: KubeApi, path: string, snapshot: () => PodSnapshot, log: Logger) {
    this.#api = api;
    this.#path = path;
    this.#snapshot = snapshot;
    this.#log = log;
  }

  report(): void {
    if (!this.#enabled) return;
    if (this.#sending) {
      this.#dirty = true;
      return;
    }
    this.#sending = this.#send().finally(() => {
      this.#sending = undefined;
      if (this.#dirty) {
        this.#dirty = false;
        this.report();
      }
    });
  }

  /** Waits until pending updates are sent. */
  async flush(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  disable(): void {
    this.#enabled = false;
  }

  /**
   * The pod's status as the API server now holds it. When its phase or a condition's status differs
   * from what this reporter last sent, someone else wrote it — the node lifecycle controller marks
   * every pod of a node NotReady when it misses the node's heartbeats, as it does across an API
   * server restart — and ours is sent again, as the kubelet's status manager does (needsReconcile):
   * on a real node such a pod is Ready again within seconds, not NotReady for good. A PATCH that
   * changes nothing makes no watch event, so this cannot loop.
   */
  observed(status: V1PodStatus | undefined): void {
    if (!this.#enabled || !this.#lastSent) return;
    if (!sameSummary(JSON.parse(this.#lastSent) as V1PodStatus, status)) {
      this.#lastSent = "";
      this.report();
    }
  }

  async #send(): Promise<void> {
    await sleep(20); // coalesce bursts of changes
    if (!this.#enabled) return;
    const status = this.#builder.build(this.#snapshot());
    const json = JSON.stringify(status);
    if (json === this.#lastSent) return;
    try {
      await this.#api.patch(this.#path, { status });
      this.#lastSent = json;
    } catch (err) {
      if (isStatus(err, 404)) {
        this.#enabled = false;
        return;
      }
      this.#log.warn({ err }, "pod status update failed; retrying");
      await sleep(1000);
      this.#dirty = true;
    }
  }
}
