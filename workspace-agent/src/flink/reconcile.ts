// The controller of a workspace's Flink deployments. One serial queue per deployment (a global bound
// on how many run at once; the Kubernetes client bounds requests). A reconcile reads like
// controller-runtime's: desired (from the stream), observed (watch caches, the JobManager), the
// lifecycle decision persisted before it is acted on, then the objects (ConfigMap, Service, pods),
// then status. Triggers: desired changes, cache events, Flink observation changes, timers.
import { randomBytes } from "node:crypto";
import type { V1ConfigMap, V1Pod, V1Service } from "@kubernetes/client-node";
import { applyObject, deleteObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { firstDifference, isSubset } from "@meridian/shared/kube/compare";
import type { EventType } from "@meridian/shared/kube/events";
import {
  COMPONENT_JOBMANAGER,
  FIELD_MANAGER_WORKSPACE_AGENT,
  LABEL_DEPLOYMENT,
} from "@meridian/shared/kube/labels";
import { KeyedQueue } from "@meridian/shared/kube/queue";
import type { KubeObject } from "@meridian/shared/kube/resources";
import { CONFIG_MAPS, PODS, SERVICES } from "@meridian/shared/kube/resources";
import type { WatchCache } from "@meridian/shared/kube/watch-cache";
import { F, type Logger } from "@meridian/shared/log";
import { type DeploymentStatus, taskManagerReplicas } from "@meridian/shared/protocol/index";
import { execute, removePods } from "./actions.ts";
import type { DesiredStore } from "./desired.ts";
import { type Decision, type Desired, decide, type LifecycleEvent } from "./lifecycle.ts";
import { applyOutcome } from "./lifecycle-outcome.ts";
import { type LifecycleState, serializeState } from "./lifecycle-state.ts";
import type { FlinkMonitor } from "./monitor.ts";
import { NameGuard } from "./name-guard.ts";
import {
  ANNOTATION_FORCE_DELETE,
  ANNOTATION_STATE,
  buildConfigMap,
  buildService,
  type DeploymentContext,
  names,
  savepointDir,
  specHash,
} from "./objects.ts";
import { componentOf, isFlinkPod, isTerminating, PodBackoff, planPods } from "./pods.ts";
import { refuseSpec, type SpecRefusal } from "./spec-policy.ts";
import { buildStatus } from "./status.ts";
import { readStoredState } from "./stored-state.ts";

export interface ControllerOptions {
  namespace: string;
  workspaceId: string;
  savepointBaseDir: string | undefined;
  /** The local policy's rules for specs (Flink image registries, job jar locations). */
  allowedRegistries: string[];
  /** Remote job jar locations; empty = none (only `local://` paths inside the image). */
  allowedJarURIs: string[];
  client: KubeClient;
  pods: WatchCache<PodObject>;
  configMaps: WatchCache<ConfigMapObject>;
  services: WatchCache<ServiceObject>;
  desired: DesiredStore;
  monitor: FlinkMonitor;
  logger: Logger;
  /** Records a Kubernetes Event on the deployment's ConfigMap (never throws). */
  recordEvent: (cm: V1ConfigMap | undefined, type: EventType, reason: string, message: string) => void;
  onStatus: (name: string, status: DeploymentStatus | undefined) => void;
  onReconcile?: (outcome: "ok" | "error", durationMs: number) => void;
  onLifecycleStep?: (kind: string, step: string) => void;
  /** An orphan (no longer in the control plane's snapshot, never deleted explicitly) is deleted after this. */
  orphanGracePeriodMs: number;
  /** How many deployments reconcile at once. Default 4. */
  concurrency?: number;
  newTriggerId?: () => string;
}

/** client-node's typed objects, as the watch caches hold them. */
export type PodObject = V1Pod & KubeObject;
export type ConfigMapObject = V1ConfigMap & KubeObject;
export type ServiceObject = V1Service & KubeObject;

const MAX_STEPS = 12;
/** How often an orphan past its grace period looks again while the latest snapshot is ambiguous. */
const AMBIGUOUS_RECHECK_MS = 60_000;
/** How long a pod just created may be missing from the watch cache before it is created again. */
const CACHE_LAG_MS = 5000;
/**
 * The deployment's own objects (ConfigMap, Service, pods) go ahead of Events and deletions in the
 * client's bounded queue toward the API server: they are the path from a change to running pods.
 */
const OBJECT_WRITE_PRIORITY = 1;

export class DeploymentController {
  readonly #o: ControllerOptions;
  readonly #queue: KeyedQueue;
  readonly #timers = new Map<string, { at: number; handle: NodeJS.Timeout }>();
  readonly #statuses = new Map<string, DeploymentStatus>();
  readonly #backoff = new PodBackoff();
  readonly #failures = new Map<string, number>();
  /** Pods this controller created, by key, until the watch cache shows them (see CACHE_LAG_MS). */
  readonly #created = new Map<string, number>();
  /** The run each deployment's pods were last planned for. */
  readonly #runs = new Map<string, number>();
  /** When each deployment was first seen orphaned (in memory: a restart only delays the deletion). */
  readonly #orphanSince = new Map<string, number>();
  /** The ConfigMap each deployment's last write returned, until the watch cache has it too. */
  readonly #written = new Map<string, V1ConfigMap>();
  /** The last unreadable-state reason reported per deployment, so it is logged and evented once. */
  readonly #unreadable = new Map<string, string>();
  /** The last policy refusal reported per deployment, so it is logged and evented once. */
  readonly #refusals = new Map<string, string>();
  /** Refuses names taken by objects that are not ours (a new deployment's, a Service to re-create). */
  readonly #names: NameGuard;
  #stopped = false;
  #started = false;

  constructor(opts: ControllerOptions) {
    this.#o = opts;
    this.#names = new NameGuard(opts);
    this.#queue = new KeyedQueue({ concurrency: opts.concurrency ?? 4 });
  }

  /** Every deployment the controller knows of: desired ones and those with objects in the cluster. */
  knownNames(): string[] {
    const fromCluster = this.#o.configMaps.list().map((cm) => cm.metadata?.labels?.[LABEL_DEPLOYMENT]);
    const fromPods = this.#o.pods.list().map((p) => p.metadata?.labels?.[LABEL_DEPLOYMENT]);
    return [...new Set([...this.#o.desired.names(), ...fromCluster, ...fromPods])].filter(
      (n): n is string => typeof n === "string" && n !== "",
    );
  }

  /**
   * Starts reconciling. Until then enqueue() is a no-op: a reconcile before every watch cache has
   * listed would take a deployment for new and overwrite its persisted lifecycle state.
   */
  start(): void {
    this.#started = true;
    this.enqueueAll();
  }

  enqueue(name: string): void {
    if (this.#stopped || !this.#started) return;
    this.#queue.schedule(name, () => this.#reconcile(name)).catch(() => {});
  }

  enqueueAll(): void {
    for (const n of this.knownNames()) this.enqueue(n);
  }

  /** Reconciles `name` again after `ms` (the earliest of several requests wins). */
  enqueueAfter(name: string, ms: number): void {
    if (this.#stopped) return;
    const at = Date.now() + ms;
    const t = this.#timers.get(name);
    if (t && t.at <= at) return;
    if (t) clearTimeout(t.handle);
    const handle = setTimeout(() => {
      this.#timers.delete(name);
      this.enqueue(name);
    }, ms);
    handle.unref();
    this.#timers.set(name, { at, handle });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t.handle);
    this.#timers.clear();
    this.#queue.close();
    await this.#queue.onIdle();
  }

  async idle(): Promise<void> {
    await this.#queue.onIdle();
  }

  async #reconcile(name: string): Promise<void> {
    if (this.#stopped) return;
    const reconcileId = randomBytes(4).toString("hex");
    const log = this.#o.logger.child({ [F.deployment]: name, [F.reconcileId]: reconcileId });
    const started = performance.now();
    try {
      await this.#reconcileOnce(name, log);
      this.#failures.delete(name);
      this.#o.onReconcile?.("ok", performance.now() - started);
    } catch (err) {
      const n = (this.#failures.get(name) ?? 0) + 1;
      this.#failures.set(name, n);
      const delayMs = Math.min(60_000, 500 * 2 ** Math.min(n - 1, 7));
      log.error({ err, [F.attempt]: n, [F.delayMs]: delayMs }, "reconcile failed; retrying");
      this.#o.onReconcile?.("error", performance.now() - started);
      this.enqueueAfter(name, delayMs);
    }
  }

  /**
   * A spec the local policy refuses: nothing is applied for it (a running earlier spec keeps
   * running). Logged and evented once per distinct reason, not on every reconcile.
   */
  #refusedOnce(name: string, cm: V1ConfigMap | undefined, refused: SpecRefusal, log: Logger): void {
    const reason = `${refused.field}: ${refused.message}`;
    if (this.#refusals.get(name) === reason) return;
    this.#refusals.set(name, reason);
    log.warn({ [F.reason]: reason }, "spec refused by the local policy; nothing applied for it");
    this.#o.recordEvent(cm, "Warning", "SpecRefused", reason);
  }

  /** The ConfigMap as cached, or as we last wrote it when the cache has not caught up yet. */
  /** True once an orphan's grace period is over; until then it is kept and a timer set. */
  #orphanExpired(name: string, cm: V1ConfigMap | undefined, log: Logger): boolean {
    const now = Date.now();
    const since = this.#orphanSince.get(name) ?? now;
    if (!this.#orphanSince.has(name)) {
      this.#orphanSince.set(name, now);
      const message = `no longer in the control plane's snapshot; deleted after ${this.#o.orphanGracePeriodMs / 1000} s unless it comes back`;
      log.warn(message);
      this.#o.recordEvent(cm, "Warning", "Orphaned", message);
    }
    const left = since + this.#o.orphanGracePeriodMs - now;
    if (left > 0) {
      this.enqueueAfter(name, Math.min(left, 2_147_000_000));
      return false;
    }
    if (this.#o.desired.ambiguous) {
      // The latest snapshot has an item whose name cannot be read: it may be this deployment.
      log.warn(
        { [F.delayMs]: AMBIGUOUS_RECHECK_MS },
        "orphan grace period over, but the latest snapshot has an item that cannot be identified; not deleting until a snapshot can be read in full",
      );
      this.enqueueAfter(name, AMBIGUOUS_RECHECK_MS);
      return false;
    }
    this.#o.recordEvent(cm, "Warning", "OrphanDeleted", "orphan grace period over; deleting");
    return true;
  }

  #configMap(name: string): V1ConfigMap | undefined {
    const cached = this.#o.configMaps.get(this.#o.namespace, names.configMap(name));
    const written = this.#written.get(name);
    if (!written) return cached;
    if (!cached || olderThan(cached, written)) return written;
    this.#written.delete(name);
    return cached;
  }

  #podsOf(name: string): V1Pod[] {
    return this.#o.pods.list((p) => p.metadata?.labels?.[LABEL_DEPLOYMENT] === name && isFlinkPod(p));
  }

  #ctx(state: LifecycleState): DeploymentContext {
    return {
      workspaceId: this.#o.workspaceId,
      namespace: this.#o.namespace,
      spec: state.spec,
      savepointBaseDir: this.#o.savepointBaseDir,
    };
  }

  async #reconcileOnce(name: string, log: Logger): Promise<void> {
    let cm = this.#configMap(name);
    const parsed = readStoredState(cm, this.#podsOf(name));
    if (!parsed.ok) {
      // Reported once per distinct reason (every pod event re-enqueues this deployment).
      if (this.#unreadable.get(name) !== parsed.error) {
        this.#unreadable.set(name, parsed.error);
        log.error({ [F.reason]: parsed.error }, "unreadable lifecycle state; not acting on this deployment");
        this.#o.recordEvent(cm, "Warning", "StateUnreadable", parsed.error);
      }
      this.#publish(name, undefined, undefined, { field: ANNOTATION_STATE, message: parsed.error }, log);
      return;
    }
    this.#unreadable.delete(name);
    let state = parsed.state;
    const entry = this.#o.desired.get(name);
    let refused: { field: string; message: string } | undefined;
    let desired: Desired | undefined;
    if (entry.kind !== "orphaned" || !state) this.#orphanSince.delete(name);
    if (entry.kind === "deleted" || state?.op?.kind === "delete") desired = { deleted: true };
    else if (entry.kind === "orphaned" && state && this.#orphanExpired(name, cm, log))
      desired = { deleted: true };
    else if (entry.kind === "spec") {
      refused = refuseSpec(entry.spec, this.#o);
      if (!refused) desired = { deleted: false, spec: entry.spec, specHash: specHash(entry.spec) };
      else this.#refusedOnce(name, cm, refused, log);
    }
    if (!refused) this.#refusals.delete(name);
    // Never adopt: a new deployment whose names are taken by objects that are not ours is refused.
    if (desired && !desired.deleted && !state && !cm) {
      refused = await this.#names.checkNew(desired.spec, log);
      if (refused) desired = undefined;
    }
    if (desired) {
      const r = await this.#lifecycle(name, desired, state, cm, log);
      state = r.state;
      cm = r.cm;
      if (r.gone) {
        this.#o.desired.forget(name);
        this.#written.delete(name);
        this.#o.monitor.track(name, undefined);
        this.#backoff.forgetDeployment(name);
        this.#publish(name, desired, undefined, undefined, log);
        return;
      }
    }
    if (state && cm?.metadata?.uid) await this.#ensureObjects(name, state, cm, log);
    // Orphaned or not yet confirmed by a snapshot: still watched and reported.
    this.#o.monitor.track(name, this.#jobManager(name));
    this.#publish(name, desired, state, refused, log, entry.kind === "orphaned");
  }

  async #lifecycle(
    name: string,
    desired: Desired,
    initial: LifecycleState | undefined,
    initialCm: V1ConfigMap | undefined,
    log: Logger,
  ): Promise<{ state: LifecycleState | undefined; cm: V1ConfigMap | undefined; gone: boolean }> {
    let state = initial;
    let cm = initialCm;
    const newTriggerId = this.#o.newTriggerId ?? (() => randomBytes(16).toString("hex"));
    // Decisions that act are taken on a fresh look at the JobManager, never on a stale poll.
    let fresh = false;
    for (let step = 0; step < MAX_STEPS; step++) {
      const jm = this.#jobManager(name);
      this.#o.monitor.track(name, jm);
      let flink = jm ? this.#o.monitor.latest(name) : undefined;
      if (jm && !flink) {
        flink = await this.#o.monitor.observe(name);
        fresh = true;
      }
      const observed = {
        now: new Date(),
        podsPresent: this.#podsOf(name).length > 0,
        job: flink?.job ?? { state: "NOT_DEPLOYED" as const },
        forceDelete: cm?.metadata?.annotations?.[ANNOTATION_FORCE_DELETE] === "true",
      };
      const ctxSpec = state?.spec ?? (desired.deleted ? undefined : desired.spec);
      const dir = ctxSpec ? savepointDir({ ...this.#ctxBase(), spec: ctxSpec }) : "";
      const d: Decision = decide({
        desired,
        state,
        observed,
        stateSpecHash: state ? specHash(state.spec) : undefined,
        savepointDir: dir,
        newTriggerId,
      });
      if (d.action.type !== "idle" && d.action.type !== "wait" && !fresh && jm) {
        await this.#o.monitor.observe(name);
        fresh = true;
        continue;
      }
      fresh = false;
      if (d.state && serializeState(d.state) !== (state ? serializeState(state) : "")) {
        cm = await this.#persist(d.state, log);
        this.#stepChanged(state, d.state, log);
      }
      state = d.state;
      this.#events(cm, d.events, log);
      if (d.action.type === "idle") break;
      if (d.action.type === "wait") {
        this.enqueueAfter(name, Math.max(200, Math.min(d.action.ms, 60_000)));
        break;
      }
      log.info({ action: d.action.type }, "lifecycle action");
      const outcome = await execute(d.action, {
        client: this.#o.client,
        namespace: this.#o.namespace,
        workspaceId: this.#o.workspaceId,
        deployment: name,
        rest: this.#o.monitor.client(name),
        pods: () => this.#podsOf(name),
      });
      if (!state) break; // removeAll of leftovers without state
      const r = applyOutcome({ state, action: d.action, outcome, now: new Date(), newTriggerId });
      this.#events(cm, r.events, log);
      if (!r.state) return { state: undefined, cm: undefined, gone: true };
      if (serializeState(r.state) !== serializeState(state)) {
        cm = await this.#persist(r.state, log);
        this.#stepChanged(state, r.state, log);
      }
      state = r.state;
      if (
        outcome.type === "unreachable" ||
        outcome.type === "inProgress" ||
        (outcome.type === "gone" && !outcome.gone)
      ) {
        this.enqueueAfter(name, outcome.type === "unreachable" ? 2000 : 1000);
        break;
      }
      if (this.#jobManager(name)) {
        await this.#o.monitor.observe(name);
        fresh = true;
      }
    }
    return { state, cm, gone: false };
  }

  #ctxBase(): Omit<DeploymentContext, "spec"> {
    return {
      workspaceId: this.#o.workspaceId,
      namespace: this.#o.namespace,
      savepointBaseDir: this.#o.savepointBaseDir,
    };
  }

  #jobManager(name: string): V1Pod | undefined {
    return this.#podsOf(name).find((p) => componentOf(p) === COMPONENT_JOBMANAGER && !isTerminating(p));
  }

  /** Writes the state (and the ConfigMap built from it) with server-side apply; returns the stored object. */
  async #persist(state: LifecycleState, log: Logger): Promise<V1ConfigMap> {
    const desired = buildConfigMap(this.#ctx(state), serializeState(state));
    const stored = (await applyObject(this.#o.client, CONFIG_MAPS, desired as never, {
      fieldManager: FIELD_MANAGER_WORKSPACE_AGENT,
      force: true,
      priority: OBJECT_WRITE_PRIORITY,
    })) as V1ConfigMap;
    this.#written.set(state.spec.name, stored);
    log.debug({ op: state.op?.kind, step: state.op?.step, run: state.run?.id }, "lifecycle state recorded");
    return stored as V1ConfigMap;
  }

  #stepChanged(before: LifecycleState | undefined, after: LifecycleState, log: Logger): void {
    const op = after.op;
    if (op && (before?.op?.step !== op.step || before?.op?.kind !== op.kind)) {
      log.info({ op: op.kind, step: op.step }, "lifecycle step recorded");
      this.#o.onLifecycleStep?.(op.kind, op.step);
    }
  }

  #events(cm: V1ConfigMap | undefined, events: LifecycleEvent[], log: Logger): void {
    for (const e of events) {
      log[e.warning ? "warn" : "info"]({ [F.reason]: e.reason }, e.message);
      this.#o.recordEvent(cm, e.warning ? "Warning" : "Normal", e.reason, e.message);
    }
  }

  /** Drift repair and the pod controller: ConfigMap, Service, JobManager and TaskManager pods. */
  async #ensureObjects(name: string, state: LifecycleState, cm: V1ConfigMap, log: Logger): Promise<void> {
    const ctx = this.#ctx(state);
    const owner = { name: cm.metadata?.name ?? "", uid: cm.metadata?.uid ?? "" };
    const wantCm = buildConfigMap(ctx, serializeState(state));
    const drift = firstDifference(wantCm, cm);
    if (drift !== undefined) {
      log.info({ field: drift }, "ConfigMap drifted; re-applying");
      this.#o.recordEvent(
        cm,
        "Normal",
        "DriftRepaired",
        "the Flink ConfigMap was changed outside Meridian; restored",
      );
      await this.#persist(state, log);
    }
    const removing = state.op?.step === "removePods" || state.op?.step === "removeAll";
    // The Service and the pods do not depend on each other: write them concurrently.
    const service = this.#ensureService(name, ctx, owner, cm, removing);
    try {
      await this.#ensurePods(name, state, ctx, owner, cm, removing, log);
    } finally {
      await service;
    }
  }

  async #ensureService(
    name: string,
    ctx: DeploymentContext,
    owner: { name: string; uid: string },
    cm: V1ConfigMap,
    removing: boolean,
  ): Promise<void> {
    const svc = this.#o.services.get(this.#o.namespace, names.service(name));
    const wantSvc = buildService(ctx, owner);
    if (removing || (svc && isTerminating(svc)) || (svc && isSubset(wantSvc, svc))) return;
    if (!svc && (await this.#names.serviceTaken(name, this.#o.logger.child({ [F.deployment]: name }))))
      return;
    if (svc) this.#o.recordEvent(cm, "Normal", "DriftRepaired", "JobManager Service restored");
    await applyObject(this.#o.client, SERVICES, wantSvc as never, {
      fieldManager: FIELD_MANAGER_WORKSPACE_AGENT,
      force: true,
      priority: OBJECT_WRITE_PRIORITY,
    });
  }

  async #ensurePods(
    name: string,
    state: LifecycleState,
    ctx: DeploymentContext,
    owner: { name: string; uid: string },
    cm: V1ConfigMap,
    removing: boolean,
    log: Logger,
  ): Promise<void> {
    const pods = this.#podsOf(name);
    if (!state.run || removing) {
      if (!state.op && pods.some((p) => !isTerminating(p))) {
        log.info("removing pods of a deployment that should have none");
        await removePods({
          client: this.#o.client,
          namespace: this.#o.namespace,
          workspaceId: this.#o.workspaceId,
          deployment: name,
          rest: undefined,
          pods: () => pods,
        });
      }
      return;
    }
    for (const p of pods) this.#created.delete(`${this.#o.namespace}/${p.metadata?.name ?? ""}`);
    // A new run starts with a clean slate: earlier crashes of the same pod names do not delay it.
    if (this.#runs.get(name) !== state.run.id) {
      this.#runs.set(name, state.run.id);
      this.#backoff.forgetDeployment(name);
    }
    const plan = planPods({
      ctx,
      owner,
      run: { id: state.run.id, specHash: state.run.specHash, restoreFrom: state.run.restoreFrom },
      replicas: taskManagerReplicas(state.spec),
      observed: pods,
      backoff: this.#backoff,
      now: Date.now(),
    });
    for (const a of plan.actions) {
      if (a.type === "delete") {
        log.info({ [F.name]: a.name, [F.reason]: a.reason }, "deleting pod");
        this.#o.recordEvent(
          cm,
          a.reason.startsWith("Failed") ? "Warning" : "Normal",
          "PodDeleted",
          `${a.name}: ${a.reason}`,
        );
        await deleteObject(this.#o.client, PODS, this.#o.namespace, a.name, a.uid ? { uid: a.uid } : {});
      }
    }
    await Promise.all(
      plan.actions.map(async (a) => {
        if (a.type !== "create") return;
        const podName = a.pod.metadata?.name ?? "";
        // Created a moment ago and not in the watch cache yet: not missing, just not seen.
        const created = this.#created.get(`${this.#o.namespace}/${podName}`);
        if (created !== undefined && Date.now() - created < CACHE_LAG_MS) {
          this.enqueueAfter(name, CACHE_LAG_MS);
          return;
        }
        log.info({ [F.name]: podName, recreate: a.recreate }, a.recreate ? "recreating pod" : "creating pod");
        if (a.recreate) this.#o.recordEvent(cm, "Normal", "PodRecreated", `${podName} recreated`);
        await applyObject(this.#o.client, PODS, a.pod as never, {
          fieldManager: FIELD_MANAGER_WORKSPACE_AGENT,
          force: true,
          priority: OBJECT_WRITE_PRIORITY,
        });
        this.#created.set(`${this.#o.namespace}/${podName}`, Date.now());
      }),
    );
    if (plan.requeueMs !== undefined) this.enqueueAfter(name, plan.requeueMs);
  }

  #publish(
    name: string,
    desired: Desired | undefined,
    state: LifecycleState | undefined,
    refused: { field: string; message: string } | undefined,
    _log: Logger,
    orphaned = false,
  ): void {
    const pods = this.#podsOf(name).filter((p) => !isTerminating(p));
    const jm = pods.find((p) => componentOf(p) === COMPONENT_JOBMANAGER);
    const entry = this.#o.desired.get(name);
    const spec = entry.kind === "spec" ? entry.spec : undefined;
    const rejection = this.#o.desired.rejection(name);
    if (!state && !spec && !rejection && desired?.deleted !== true && entry.kind !== "deleted") {
      // Nothing desired and nothing exists: not ours to report.
      this.#statuses.delete(name);
      this.#o.onStatus(name, undefined);
      return;
    }
    const status = buildStatus({
      name,
      spec,
      specHash: spec ? specHash(spec) : undefined,
      deleted: desired?.deleted === true || entry.kind === "deleted",
      orphaned,
      refused,
      rejection,
      state,
      jobManager: jm,
      taskManagers: pods.filter((p) => p !== jm),
      flink: jm ? this.#o.monitor.latest(name) : undefined,
      previous: this.#statuses.get(name)?.conditions,
      now: new Date(),
    });
    this.#statuses.set(name, status);
    this.#o.onStatus(name, status);
  }
}

/**
 * True when `a` is an older version of the same object than `b`. resourceVersions are opaque, but
 * etcd's are increasing integers; anything else is treated as not older (the cache wins).
 */
function olderThan(a: V1ConfigMap, b: V1ConfigMap): boolean {
  if (a.metadata?.uid !== b.metadata?.uid) return a.metadata?.uid === undefined;
  const ra = a.metadata?.resourceVersion ?? "";
  const rb = b.metadata?.resourceVersion ?? "";
  if (!/^\d+$/.test(ra) || !/^\d+$/.test(rb)) return false;
  return BigInt(ra) < BigInt(rb);
}
