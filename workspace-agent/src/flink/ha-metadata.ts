// The HA metadata Flink keeps in the deployment's namespace (Kubernetes HA, written by the Flink pods
// as the workspace's Flink ServiceAccount): read to see whether a LAST_STATE operation has a completed
// checkpoint to continue from, and deleted when the deployment's state no longer needs it. Read and
// deleted through the API server directly (the watch caches hold only the workspace agent's own
// objects); only ConfigMaps Flink labelled as this deployment's HA metadata are ever deleted, each
// exactly as listed (uid precondition).
import type { V1ConfigMap } from "@kubernetes/client-node";
import { deleteObject, getObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { selector } from "@meridian/shared/kube/labels";
import { CONFIG_MAPS, resourcePath } from "@meridian/shared/kube/resources";
import { HA_CHECKPOINT_KEY_PREFIX, haConfigMapSelector, jobConfigMapName } from "./state-config.ts";

export interface LastState {
  available: boolean;
  /** What was found (the checkpoint ids), or why nothing usable was. */
  message: string;
}

const isHaConfigMap = (cm: V1ConfigMap, deployment: string) => {
  const labels = cm.metadata?.labels ?? {};
  const want = haConfigMapSelector(deployment);
  return Object.entries(want).every(([k, v]) => labels[k] === v);
};

/** Whether job `jobId` of `deployment` has a completed checkpoint in its HA ConfigMap. */
export async function readLastState(
  client: KubeClient,
  namespace: string,
  deployment: string,
  jobId: string,
): Promise<LastState> {
  const name = jobConfigMapName(deployment, jobId);
  const cm = (await getObject(client, CONFIG_MAPS, namespace, name)) as V1ConfigMap | undefined;
  if (!cm || cm.metadata?.deletionTimestamp || !isHaConfigMap(cm, deployment))
    return {
      available: false,
      message: `the HA metadata of job ${jobId} (ConfigMap ${name}) does not exist`,
    };
  const ids = Object.keys(cm.data ?? {})
    .filter((k) => k.startsWith(HA_CHECKPOINT_KEY_PREFIX))
    .map((k) => Number.parseInt(k.slice(HA_CHECKPOINT_KEY_PREFIX.length), 10))
    .filter((n) => Number.isFinite(n))
    .sort((a, b) => a - b);
  if (ids.length === 0)
    return {
      available: false,
      message: `the HA metadata of job ${jobId} (ConfigMap ${name}) holds no completed checkpoint`,
    };
  return {
    available: true,
    message: `the HA metadata of job ${jobId} holds completed checkpoint ${ids.at(-1)}; continuing from it`,
  };
}

/**
 * Deletes the deployment's HA ConfigMaps but the checkpoint store of `keepJobId` (the job a LAST_STATE
 * run continues: its execution plan and leader records go, so the new spec takes effect at once).
 * Returns how many were deleted.
 */
export async function deleteHaMetadata(
  client: KubeClient,
  namespace: string,
  deployment: string,
  keepJobId?: string,
  signal?: AbortSignal,
): Promise<number> {
  const list = await client.request<{ items?: V1ConfigMap[] }>({
    method: "GET",
    path: resourcePath(CONFIG_MAPS, namespace),
    query: { labelSelector: selector(haConfigMapSelector(deployment)) },
    signal,
  });
  const keep = keepJobId ? jobConfigMapName(deployment, keepJobId) : undefined;
  let deleted = 0;
  for (const cm of list.items ?? []) {
    const name = cm.metadata?.name ?? "";
    if (name === keep || cm.metadata?.deletionTimestamp) continue;
    if (!isHaConfigMap(cm, deployment)) continue;
    if (await deleteObject(client, CONFIG_MAPS, namespace, name, { uid: cm.metadata?.uid, signal }))
      deleted++;
  }
  return deleted;
}
