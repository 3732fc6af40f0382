// The pod half of the controller, pure planning: given the pods a run should have and the pods
// that exist, which to create and which to delete. A container that dies is restarted in place by the
// kubelet (restartPolicy Always, decision 43): its last termination is remembered for status
// (OOMKilled) until it has run for a minute. A pod that failed as a whole (evicted, its node gone) is
// deleted and recreated with a per-pod back-off; pods of an older run or beyond the TaskManager count
// are deleted; a pod that is still terminating is waited for (its name is reused).
import type { V1Pod } from "@kubernetes/client-node";
import { type BackoffPolicy, backoffDelay } from "@meridian/shared/backoff";
import { COMPONENT_JOBMANAGER, COMPONENT_TASKMANAGER, LABEL_COMPONENT } from "@meridian/shared/kube/labels";
import {
  ANNOTATION_RUN,
  buildJobManagerPod,
  buildTaskManagerPod,
  type DeploymentContext,
  type Owner,
  type PodRun,
} from "./objects.ts";

export type PodAction =
  | { type: "create"; pod: V1Pod; recreate: boolean }
  | { type: "delete"; name: string; uid: string | undefined; reason: string };

export interface PodPlan {
  actions: PodAction[];
  /** Come back after this long (a back-off is running); undefined: an event will wake us. */
  requeueMs: number | undefined;
}

/** Recreating a pod that failed again: full jitter from 1 s doubling to 60 s, at least 250 ms. */
export const POD_RECREATE_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 60_000, floorMs: 250 };

const podsOfDeployment = (deployment: string) =>
  new RegExp(`^${deployment.replace(/[-]/g, "\\-")}-(jobmanager|taskmanager-\\d+)$`);

/**
 * Crash-loop protection per pod name: the first recreate is immediate (one failure is not a loop),
 * later ones wait `POD_RECREATE_BACKOFF`.
 */
export class PodBackoff {
  readonly #entries = new Map<string, { failures: number; notBefore: number; last?: PodFailure }>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  failed(name: string, now: number, failure?: PodFailure): number {
    const e = this.#entries.get(name) ?? { failures: 0, notBefore: 0 };
    e.failures += 1;
    if (failure) e.last = failure;
    const delay = e.failures <= 1 ? 0 : backoffDelay(e.failures - 2, POD_RECREATE_BACKOFF, this.#random);
    e.notBefore = now + delay;
    this.#entries.set(name, e);
    return delay;
  }

  /** Milliseconds to wait before (re)creating `name`; 0 when allowed now. */
  waitMs(name: string, now: number): number {
    const e = this.#entries.get(name);
    return e ? Math.max(0, e.notBefore - now) : 0;
  }

  failures(name: string): number {
    return this.#entries.get(name)?.failures ?? 0;
  }

  /** A container of `name` was restarted in place after `failure`: remembered for status, no back-off. */
  restarted(name: string, failure: PodFailure): void {
    const e = this.#entries.get(name) ?? { failures: 0, notBefore: 0 };
    e.last = failure;
    this.#entries.set(name, e);
  }

  /** The pod has run long enough: forget its failures. */
  healthy(name: string): void {
    this.#entries.delete(name);
  }

  /** The last failures of one deployment's pods that have not run healthy since. */
  failuresOf(deployment: string): { pod: string; failure: PodFailure }[] {
    const re = podsOfDeployment(deployment);
    return [...this.#entries]
      .filter(([k, e]) => re.test(k) && e.last !== undefined)
      .map(([pod, e]) => ({ pod, failure: e.last! }));
  }

  /** Forgets the failures of one deployment's pods (`<name>-jobmanager`, `<name>-taskmanager-<n>`). */
  forgetDeployment(deployment: string): void {
    const re = podsOfDeployment(deployment);
    for (const k of this.#entries.keys()) if (re.test(k)) this.#entries.delete(k);
  }
}

export const HEALTHY_AFTER_MS = 60_000;

/** Why a Flink pod's container ended, as the kubelet recorded it (`OOMKilled`, `Error`, ...). */
export interface PodFailure {
  reason: string | undefined;
  exitCode: number | undefined;
  /** The container's memory limit, for a message that says what was exceeded. */
  memoryLimit: string | undefined;
}

export function podFailure(pod: V1Pod): PodFailure {
  const c = pod.status?.containerStatuses?.[0];
  const term = c?.state?.terminated ?? c?.lastState?.terminated;
  const limit = pod.spec?.containers?.[0]?.resources?.limits?.memory;
  return {
    reason: term?.reason ?? pod.status?.reason,
    exitCode: term?.exitCode,
    memoryLimit: limit === undefined ? undefined : String(limit),
  };
}

export function isTerminating(obj: { metadata?: { deletionTimestamp?: unknown } }): boolean {
  return Boolean(obj.metadata?.deletionTimestamp);
}

export function isFinished(pod: V1Pod): boolean {
  return pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded";
}

export function componentOf(pod: V1Pod): string | undefined {
  return pod.metadata?.labels?.[LABEL_COMPONENT];
}

export function isFlinkPod(pod: V1Pod): boolean {
  const c = componentOf(pod);
  return c === COMPONENT_JOBMANAGER || c === COMPONENT_TASKMANAGER;
}

export interface PlanInput {
  ctx: DeploymentContext;
  owner: Owner;
  run: PodRun;
  replicas: number;
  /** This deployment's JobManager and TaskManager pods. */
  observed: V1Pod[];
  backoff: PodBackoff;
  now: number;
}

export function planPods(i: PlanInput): PodPlan {
  const wanted = new Map<string, V1Pod>();
  const jm = buildJobManagerPod(i.ctx, i.owner, i.run);
  wanted.set(jm.metadata!.name!, jm);
  for (let n = 0; n < i.replicas; n++) {
    const tm = buildTaskManagerPod(i.ctx, i.owner, i.run, n);
    wanted.set(tm.metadata!.name!, tm);
  }
  const actions: PodAction[] = [];
  let requeueMs: number | undefined;
  const later = (ms: number) => {
    requeueMs = requeueMs === undefined ? ms : Math.min(requeueMs, ms);
  };
  const byName = new Map(i.observed.map((p) => [p.metadata?.name ?? "", p]));
  for (const [name, pod] of byName) {
    if (isTerminating(pod)) continue;
    const del = (reason: string) => actions.push({ type: "delete", name, uid: pod.metadata?.uid, reason });
    if (!wanted.has(name)) del("not wanted (TaskManager count lowered)");
    else if (pod.metadata?.annotations?.[ANNOTATION_RUN] !== String(i.run.id))
      del(`from an older run (now run ${i.run.id})`);
    else if (isFinished(pod)) {
      const delay = i.backoff.failed(name, i.now, podFailure(pod));
      del(
        `${pod.status?.phase}: ${terminationReason(pod)}; recreating${delay ? ` in ${delay / 1000} s` : ""}`,
      );
    } else {
      const since = runningSince(pod);
      if (restartedRecently(pod, i.now)) i.backoff.restarted(name, podFailure(pod));
      else if (since !== undefined && i.now - since > HEALTHY_AFTER_MS) i.backoff.healthy(name);
    }
  }
  for (const [name, pod] of wanted) {
    const existing = byName.get(name);
    // Exists, or is terminating / being deleted now: its deletion event brings us back.
    if (existing) continue;
    const wait = i.backoff.waitMs(name, i.now);
    if (wait > 0) {
      later(wait);
      continue;
    }
    actions.push({ type: "create", pod, recreate: i.backoff.failures(name) > 0 });
  }
  return { actions, requeueMs };
}

const time = (t: unknown) => (t ? new Date(t as string).getTime() : undefined);

/** Since when the Flink container runs (its last start: the kubelet restarts it in place). */
function runningSince(pod: V1Pod): number | undefined {
  if (pod.status?.phase !== "Running") return undefined;
  const c = pod.status.containerStatuses?.[0];
  if (c && !c.state?.running) return undefined;
  return time(c?.state?.running?.startedAt) ?? time(pod.status.startTime);
}

/** The Flink container was restarted in place and has not run for HEALTHY_AFTER_MS since. */
function restartedRecently(pod: V1Pod, now: number): boolean {
  const c = pod.status?.containerStatuses?.[0];
  if (!c?.lastState?.terminated || (c.restartCount ?? 0) === 0) return false;
  if (!c.state?.running) return true; // waiting to be restarted (CrashLoopBackOff)
  const started = time(c.state.running.startedAt);
  return started === undefined || now - started <= HEALTHY_AFTER_MS;
}

function terminationReason(pod: V1Pod): string {
  const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
  if (term) return `container exited ${term.exitCode}${term.reason ? ` (${term.reason})` : ""}`;
  return pod.status?.reason ?? pod.status?.message ?? "pod finished";
}
