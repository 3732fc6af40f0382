// Drift repair and the pod controller of one deployment with persisted state: the ConfigMap as the
// state says, the JobManager Service, and the run's JobManager and TaskManager pods (pods.ts plans
// which to create and delete; failed pods come back with a per-pod crash back-off). Nothing here
// decides the lifecycle: it makes the cluster hold what the persisted state says.
import type { V1ConfigMap } from "@kubernetes/client-node";
import { RetryableError } from "@meridian/shared/controller/result";
import { applyObject, deleteObject } from "@meridian/shared/kube/apply";
import { firstDifference, isSubset } from "@meridian/shared/kube/compare";
import { FIELD_MANAGER_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import { describeQuotaRefusal, quotaRefusalOf } from "@meridian/shared/kube/quota-refusal";
import { PODS, SERVICES } from "@meridian/shared/kube/resources";
import { F } from "@meridian/shared/log";
import { taskManagerReplicas } from "@meridian/shared/protocol/index";
import { settleAll } from "@meridian/shared/settle";
import { removePods } from "./actions.ts";
import { OBJECT_WRITE_PRIORITY, wantedConfigMap, writeConfigMap } from "./config-map.ts";
import type { PodQuotaRefusal } from "./deployment-record.ts";
import type { LifecycleState } from "./lifecycle-state.ts";
import { NameTakenError } from "./name-guard.ts";
import { buildService, type DeploymentContext, names, type Owner } from "./objects.ts";
import { isTerminating, planPods } from "./pods.ts";
import {
  contextOf,
  createdThisRun,
  type DeploymentRun,
  type PodObject,
  podsOf,
  requeue,
  type ServiceObject,
} from "./reconcile-deps.ts";

/** How long a pod just created may be missing from the watch cache before it is created again. */
export const CACHE_LAG_MS = 5000;

const WRITE = { fieldManager: FIELD_MANAGER_WORKSPACE_AGENT, force: true, priority: OBJECT_WRITE_PRIORITY };

/** ConfigMap, Service, JobManager and TaskManager pods, as the persisted `state` says. */
export async function ensureObjects(
  run: DeploymentRun,
  state: LifecycleState,
  cm: V1ConfigMap,
): Promise<void> {
  const ctx = contextOf(run.deps, state.spec);
  const owner = { name: cm.metadata?.name ?? "", uid: cm.metadata?.uid ?? "" };
  const drift = firstDifference(wantedConfigMap(run, state), cm);
  if (drift !== undefined) {
    run.log.info({ field: drift }, "ConfigMap drifted; re-applying");
    run.deps.recordEvent(
      cm,
      "Normal",
      "DriftRepaired",
      "the Flink ConfigMap was changed outside Meridian; restored",
    );
    await writeConfigMap(run, state);
  }
  const removing = state.op?.step === "removePods" || state.op?.step === "removeAll";
  // The Service and the pods do not depend on each other: write them concurrently.
  const service = ensureService(run, ctx, owner, cm, removing);
  service.catch(() => {}); // awaited below, after the pods; a failure meanwhile is not unhandled
  try {
    await ensurePods(run, state, ctx, owner, cm, removing);
  } finally {
    await service;
  }
}

async function ensureService(
  run: DeploymentRun,
  ctx: DeploymentContext,
  owner: Owner,
  cm: V1ConfigMap,
  removing: boolean,
): Promise<void> {
  const { deps, name } = run;
  const svc = deps.services.get(deps.namespace, names.service(name));
  const wantSvc = buildService(ctx, owner);
  if (removing || (svc && isTerminating(svc)) || (svc && isSubset(wantSvc, svc))) return;
  if (!svc) {
    const opts = { signal: run.signal, priority: OBJECT_WRITE_PRIORITY };
    try {
      const r = await deps.names.create(SERVICES, wantSvc as ServiceObject, name, run.log, opts);
      if (!r.created) return; // ours, not in the cache yet
      run.createdHere.push({ type: SERVICES, name: names.service(name), uid: r.object.metadata?.uid });
      run.writes++;
      return;
    } catch (err) {
      // A deployment with state keeps running without its Service rather than take over someone
      // else's (logged once); a new one is refused (reconcile.ts).
      if (err instanceof NameTakenError && !createdThisRun(run)) return;
      throw err;
    }
  }
  deps.recordEvent(cm, "Normal", "DriftRepaired", "JobManager Service restored");
  await applyObject(deps.client, SERVICES, wantSvc as never, { ...WRITE, signal: run.signal });
  run.writes++;
}

async function ensurePods(
  run: DeploymentRun,
  state: LifecycleState,
  ctx: DeploymentContext,
  owner: Owner,
  cm: V1ConfigMap,
  removing: boolean,
): Promise<void> {
  const { deps, name, record, log } = run;
  const pods = podsOf(deps, name);
  if (!state.run || removing) {
    record.quotaRefusal = undefined;
    if (!state.op && pods.some((p) => !isTerminating(p))) {
      log.info("removing pods of a deployment that should have none");
      await removePods({
        client: deps.client,
        namespace: deps.namespace,
        workspaceId: deps.workspaceId,
        deployment: name,
        rest: undefined,
        pods: () => pods,
      });
      run.writes += pods.filter((p) => !isTerminating(p)).length;
    }
    return;
  }
  for (const p of pods) record.created.delete(p.metadata?.name ?? "");
  // A new run starts with a clean slate: earlier crashes of the same pod names do not delay it.
  if (record.runId !== state.run.id) {
    record.runId = state.run.id;
    deps.podBackoff.forgetDeployment(name);
  }
  const plan = planPods({
    ctx,
    owner,
    run: {
      id: state.run.id,
      specHash: state.run.specHash,
      restoreFrom: state.run.restoreFrom,
      jobId: state.run.jobId,
    },
    replicas: taskManagerReplicas(state.spec),
    observed: pods,
    backoff: deps.podBackoff,
    now: Date.now(),
  });
  for (const a of plan.actions) {
    if (a.type !== "delete") continue;
    log.info({ [F.name]: a.name, [F.reason]: a.reason }, "deleting pod");
    deps.recordEvent(
      cm,
      a.reason.startsWith("Failed") ? "Warning" : "Normal",
      "PodDeleted",
      `${a.name}: ${a.reason}`,
    );
    await deleteObject(deps.client, PODS, deps.namespace, a.name, {
      ...(a.uid ? { uid: a.uid } : {}),
      signal: run.signal,
    });
    run.writes++;
  }
  // Every create settles before the run ends, even when one fails (settle.ts).
  await settleAll(
    plan.actions.map(async (a) => {
      if (a.type !== "create") return;
      const podName = a.pod.metadata?.name ?? "";
      // Created a moment ago and not in the watch cache yet: not missing, just not seen.
      const created = record.created.get(podName);
      if (created !== undefined && Date.now() - created < CACHE_LAG_MS) {
        requeue(run, CACHE_LAG_MS);
        return;
      }
      log.info({ [F.name]: podName, recreate: a.recreate }, a.recreate ? "recreating pod" : "creating pod");
      if (a.recreate) deps.recordEvent(cm, "Normal", "PodRecreated", `${podName} recreated`);
      let made: { object: PodObject; created: boolean };
      try {
        const opts = { signal: run.signal, priority: OBJECT_WRITE_PRIORITY };
        made = await deps.names.create(PODS, a.pod as PodObject, name, log, opts);
      } catch (err) {
        const quota = quotaRefusalOf(err);
        if (quota) throw refusedByQuota(run, cm, { pod: podName, ...quota }, err);
        // A pod of a deployment with state whose name someone else took: not ours to replace.
        if (err instanceof NameTakenError && !createdThisRun(run))
          throw new RetryableError("NameTaken", err.message, { cause: err });
        throw err;
      }
      record.created.set(podName, Date.now());
      if (!made.created) return;
      run.createdHere.push({ type: PODS, name: podName, uid: made.object.metadata?.uid });
      run.writes++;
    }),
  );
  // Every pod the run needs exists or was just created: no quota refusal stands any more.
  record.quotaRefusal = undefined;
  if (plan.requeueMs !== undefined) requeue(run, plan.requeueMs);
}

/**
 * A pod the workspace's ResourceQuota has no room for: remembered for status (Ready=False
 * QuotaExceeded, naming the quota and its numbers), evented once per distinct refusal, and failed
 * as retryable with that reason, so the controller backs off until the quota has room (freed by
 * someone else's pod going, or a larger quota: nothing the workspace agent watches).
 */
function refusedByQuota(
  run: DeploymentRun,
  cm: V1ConfigMap,
  refusal: PodQuotaRefusal,
  cause: unknown,
): RetryableError {
  const before = run.record.quotaRefusal;
  run.record.quotaRefusal = refusal;
  const message = describeQuotaRefusal(`pod ${refusal.pod}`, refusal);
  if (JSON.stringify(before) !== JSON.stringify(refusal))
    run.deps.recordEvent(cm, "Warning", "QuotaExceeded", message);
  return new RetryableError("QuotaExceeded", message, { cause });
}
