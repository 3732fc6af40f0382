// The deployment's ConfigMap, the home of its persisted lifecycle state and its orphan mark: read as
// the watch cache holds it (or as our last write returned it, while the cache lags), created
// create-only and then written with server-side apply. Every write carries the orphan mark the
// record holds, so writing the lifecycle state never drops the mark and a restart never forgets it.
import type { V1ConfigMap } from "@kubernetes/client-node";
import {
  ANNOTATION_STREAM_MARK,
  markText,
  newestMark,
  parseMark,
} from "@meridian/shared/controlplane/replay-mark";
import { applyObject } from "@meridian/shared/kube/apply";
import { FIELD_MANAGER_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import { CONFIG_MAPS } from "@meridian/shared/kube/resources";
import { type LifecycleState, serializeState } from "./lifecycle-state.ts";
import { buildConfigMap, names } from "./objects.ts";
import { type ConfigMapObject, contextOf, type DeploymentRun } from "./reconcile-deps.ts";

/**
 * The deployment's own objects (ConfigMap, Service, pods) go ahead of Events and deletions in the
 * client's bounded queue toward the API server: they are the path from a change to running pods.
 */
export const OBJECT_WRITE_PRIORITY = 1;

/** The ConfigMap as cached, or as we last wrote it when the cache has not caught up yet. */
export function configMapOf(run: DeploymentRun): V1ConfigMap | undefined {
  const { deps, record } = run;
  const cached = deps.configMaps.get(deps.namespace, names.configMap(run.name));
  const written = record.written;
  if (!written) return cached;
  if (!cached || olderThan(cached, written)) return written;
  record.written = undefined;
  return cached;
}

/**
 * The ConfigMap the run would write for `state`, with the record's orphan mark and the stream mark of
 * the event that created the deployment (the newer of the one it carries and the one this session
 * accepted, so every write keeps it; decision 50).
 */
export function wantedConfigMap(run: DeploymentRun, state: LifecycleState): V1ConfigMap {
  const carried = parseMark(configMapOf(run)?.metadata?.annotations?.[ANNOTATION_STREAM_MARK]);
  const mark = newestMark([carried, run.deps.desired.creationMark(run.name)]);
  return buildConfigMap(
    contextOf(run.deps, state.spec),
    serializeState(state),
    run.record.orphanedSince,
    mark && markText(mark),
  );
}

/**
 * Writes the state (and the ConfigMap built from it) and returns the stored object: the first time
 * with a create-only POST (a ConfigMap of that name that is not ours refuses the deployment, see
 * name-guard.ts), then with server-side apply.
 */
export async function writeConfigMap(run: DeploymentRun, state: LifecycleState): Promise<V1ConfigMap> {
  const wanted = wantedConfigMap(run, state);
  let stored: V1ConfigMap | undefined;
  if (!configMapOf(run)) {
    const opts = { signal: run.signal, priority: OBJECT_WRITE_PRIORITY };
    const r = await run.deps.names.create(CONFIG_MAPS, wanted as ConfigMapObject, run.name, run.log, opts);
    if (r.created) {
      stored = r.object;
      run.createdHere.push({ type: CONFIG_MAPS, name: names.configMap(run.name), uid: stored.metadata?.uid });
    }
  }
  stored ??= (await applyObject(run.deps.client, CONFIG_MAPS, wanted as never, {
    fieldManager: FIELD_MANAGER_WORKSPACE_AGENT,
    force: true,
    priority: OBJECT_WRITE_PRIORITY,
    signal: run.signal,
  })) as V1ConfigMap;
  run.writes++;
  run.record.written = stored;
  run.log.debug({ op: state.op?.kind, step: state.op?.step, run: state.run?.id }, "lifecycle state recorded");
  return stored;
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
