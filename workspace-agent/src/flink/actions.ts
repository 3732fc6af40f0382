// Carries out one lifecycle action against Flink's REST API or the Kubernetes API and reports the
// outcome as a value for `applyOutcome`. Never throws for an expected failure (no answer, 404, a
// failed savepoint): those are outcomes. Kubernetes errors other than not-found do throw, so the
// reconcile is retried with back-off.
import type { V1Pod } from "@kubernetes/client-node";
import { deleteObject, getObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { MANAGED_BY_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import { isOwnedBy } from "@meridian/shared/kube/ownership";
import { CONFIG_MAPS, PODS, type ResourceType, SERVICES } from "@meridian/shared/kube/resources";
import { deleteHaMetadata, readLastState } from "./ha-metadata.ts";
import type { Action, Outcome } from "./lifecycle.ts";
import { names } from "./objects.ts";
import { isTerminating } from "./pods.ts";
import type { FlinkRestClient, RestResult } from "./rest.ts";
import { alreadyGone } from "./savepoint-history.ts";

export interface ActionContext {
  client: KubeClient;
  namespace: string;
  workspaceId: string;
  deployment: string;
  /** The deployment's JobManager REST client; undefined while it has no address. */
  rest: FlinkRestClient | undefined;
  /** This deployment's JobManager and TaskManager pods, from the cache. */
  pods: () => V1Pod[];
  /** Send the savepoint directory in the request instead of relying on the job's configuration. */
  explicitSavepointDirectory?: boolean;
  /** How long a savepoint disposal is waited for (default 20 s). */
  disposalWaitMs?: number;
}

export async function execute(action: Action, ctx: ActionContext): Promise<Outcome> {
  switch (action.type) {
    case "triggerSavepoint": {
      if (!ctx.rest) return { type: "unreachable", message: "the JobManager has no address yet" };
      // The directory is the job's configured `execution.checkpointing.savepoint-dir` (objects.ts puts
      // action.directory there), so the request leaves it to Flink: the path is then resolved where
      // the JobManager runs, which also keeps the local test cluster's path mapping in force.
      const dir = ctx.explicitSavepointDirectory ? action.directory : undefined;
      const r = action.stop
        ? await ctx.rest.stopWithSavepoint(action.jobId, dir, action.triggerId)
        : await ctx.rest.triggerSavepoint(action.jobId, dir, action.triggerId);
      return simple(r);
    }
    case "pollSavepoint": {
      if (!ctx.rest) return { type: "unreachable", message: "the JobManager has no address yet" };
      const r = await ctx.rest.savepointStatus(action.jobId, action.triggerId);
      if (r.kind !== "ok") return simple(r);
      if (r.value.status === "IN_PROGRESS") return { type: "inProgress" };
      if (r.value.status === "COMPLETED") return { type: "completed", location: r.value.location };
      return { type: "failed", message: r.value.message };
    }
    case "cancelJob": {
      if (!ctx.rest) return { type: "unreachable", message: "the JobManager has no address yet" };
      return simple(await ctx.rest.cancel(action.jobId));
    }
    case "checkLastState": {
      const r = await readLastState(ctx.client, ctx.namespace, ctx.deployment, action.jobId);
      return { type: "lastState", ...r };
    }
    case "resetHa":
      await deleteHaMetadata(ctx.client, ctx.namespace, ctx.deployment, action.keepJobId);
      return { type: "ok" };
    case "removePods":
      return { type: "gone", gone: await removePods(ctx) };
    case "disposeSavepoint":
      if (!ctx.rest) return { type: "unreachable", message: "the JobManager has no address yet" };
      return disposeSavepoint(ctx.rest, action.location, ctx.disposalWaitMs ?? DISPOSAL_WAIT_MS);
    case "removeAll": {
      const podsGone = await removePods(ctx);
      await deleteIfOurs(ctx, SERVICES, names.service(ctx.deployment));
      if (!podsGone) return { type: "gone", gone: false };
      // The deployment goes for good (a savepoint taken, or stateless): its HA metadata is not needed.
      await deleteHaMetadata(ctx.client, ctx.namespace, ctx.deployment);
      await deleteIfOurs(ctx, CONFIG_MAPS, names.configMap(ctx.deployment));
      return { type: "gone", gone: true };
    }
    default:
      return { type: "ok" };
  }
}

/** How long one disposal is waited for before it counts as failed (and is tried again later). */
const DISPOSAL_WAIT_MS = 20_000;

/**
 * Disposes of a savepoint through Flink (`/savepoint-disposal`), which deletes it with the job's own
 * file system and credentials; waits for the answer at most `waitMs`. A savepoint already gone counts
 * as disposed, so a disposal repeated after a restart is harmless.
 */
async function disposeSavepoint(rest: FlinkRestClient, location: string, waitMs: number): Promise<Outcome> {
  const started = await rest.disposeSavepoint(location);
  if (started.kind !== "ok") return simple(started);
  const deadline = Date.now() + waitMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const r = await rest.disposalStatus(started.value);
    if (r.kind !== "ok") return simple(r);
    if (r.value.status === "COMPLETED") return { type: "disposed", alreadyGone: false };
    if (r.value.status === "FAILED")
      return alreadyGone(r.value.message)
        ? { type: "disposed", alreadyGone: true }
        : { type: "failed", message: r.value.message };
    if (Date.now() + delay > deadline)
      return { type: "failed", message: `the disposal did not finish within ${waitMs / 1000} s` };
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function simple(r: RestResult<unknown>): Outcome {
  switch (r.kind) {
    case "ok":
      return { type: "ok" };
    case "notFound":
      return { type: "notFound" };
    case "unreachable":
      return { type: "unreachable", message: r.message };
    case "error":
      return { type: "failed", message: r.message };
  }
}

/**
 * Deletes the object if it is the workspace agent's for this workspace, exactly as seen (uid and
 * resourceVersion preconditions); anyone else's object of that name is left alone.
 */
async function deleteIfOurs(ctx: ActionContext, type: ResourceType, name: string): Promise<void> {
  const obj = await getObject(ctx.client, type, ctx.namespace, name);
  if (!obj || !isOwnedBy(obj, MANAGED_BY_WORKSPACE_AGENT, ctx.workspaceId)) return;
  await deleteObject(ctx.client, type, ctx.namespace, name, {
    propagationPolicy: "Background",
    uid: obj.metadata?.uid,
    resourceVersion: obj.metadata?.resourceVersion,
  });
}

/** Deletes every JobManager/TaskManager pod of the deployment; true when none is left. */
export async function removePods(ctx: ActionContext): Promise<boolean> {
  const pods = ctx.pods();
  await Promise.all(
    pods
      .filter((p) => !isTerminating(p))
      .map((p) =>
        deleteObject(ctx.client, PODS, ctx.namespace, p.metadata?.name ?? "", { uid: p.metadata?.uid }),
      ),
  );
  return pods.length === 0;
}
