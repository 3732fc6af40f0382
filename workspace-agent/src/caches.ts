// The workspace agent's watch caches: the pods, ConfigMaps and Services of its namespace that it
// manages (label-selected, managedFields dropped). Every event is a trigger for the deployment it
// belongs to (label meridian.dev/deployment); a re-list after 410 Gone is one for every deployment.
import type { KubeClient } from "@meridian/shared/kube/client";
import {
  LABEL_DEPLOYMENT,
  MANAGED_BY_WORKSPACE_AGENT,
  managedBySelector,
} from "@meridian/shared/kube/labels";
import { CONFIG_MAPS, PODS, SERVICES } from "@meridian/shared/kube/resources";
import { dropManagedFields, WatchCache } from "@meridian/shared/kube/watch-cache";
import type { Logger } from "@meridian/shared/log";
import type { ConfigMapObject, PodObject, ServiceObject } from "./flink/reconcile-deps.ts";

export interface WorkspaceCaches {
  pods: WatchCache<PodObject>;
  configMaps: WatchCache<ConfigMapObject>;
  services: WatchCache<ServiceObject>;
  all: WatchCache[];
}

export function startCaches(client: KubeClient, namespace: string, logger: Logger): WorkspaceCaches {
  const labelSelector = managedBySelector(MANAGED_BY_WORKSPACE_AGENT);
  const opts = { client, namespace, labelSelector, logger, transform: dropManagedFields };
  const pods = new WatchCache<PodObject>({ ...opts, type: PODS }).start();
  const configMaps = new WatchCache<ConfigMapObject>({ ...opts, type: CONFIG_MAPS }).start();
  const services = new WatchCache<ServiceObject>({ ...opts, type: SERVICES }).start();
  return { pods, configMaps, services, all: [pods, configMaps, services] as WatchCache[] };
}

/** Calls `fn(deployment)` for every cache event of an object that belongs to a deployment. */
export function onDeploymentEvent(caches: WorkspaceCaches, fn: (name: string) => void): void {
  for (const cache of caches.all)
    cache.on((ev) => {
      const name = ev.object.metadata?.labels?.[LABEL_DEPLOYMENT];
      if (name) fn(name);
    });
}

/**
 * Calls `fn()` after every re-list (after 410 Gone: an API server or etcd restart, a long outage). A
 * re-list reports only the objects that differ from the stale contents, so every deployment is to
 * be looked at again, and its status rebuilt, from the fresh ones.
 */
export function onRelisted(caches: WorkspaceCaches, fn: () => void): void {
  for (const cache of caches.all)
    cache.onListed(({ relist }) => {
      if (relist) fn();
    });
}

/** Why the workspace agent is not ready yet, as far as its caches go. */
export function cachesNotReady(caches: WorkspaceCaches): string | undefined {
  const unsynced = caches.all.filter((c) => !c.synced).map((c) => c.type.plural);
  return unsynced.length ? `watch caches not synced: ${unsynced.join(", ")}` : undefined;
}
