// Before a workspace's namespace goes, its Flink deployments go first, each through the workspace
// agent's own delete path (stop-with-savepoint where the upgrade mode asks for state). The agent
// signals the workspace agent through the credential Secret it already watches
// (ANNOTATION_WORKSPACE_DELETING), then reads the workspace agent's Flink ConfigMaps in the namespace:
// the namespace is deleted only when none is left, or when an operator forced it
// (`meridian.dev/force-delete=true` on the namespace). While they drain, what each deployment's
// persisted lifecycle state says — its step, why it is blocked, its newest savepoint — goes into the
// workspace's record, and from there into its status upward (DeletionBlocked).
import {
  ANNOTATION_FORCE_DELETE,
  ANNOTATION_LIFECYCLE_STATE,
  ANNOTATION_WORKSPACE_DELETING,
} from "@meridian/shared/contract/workspace-deletion";
import { applyObject } from "@meridian/shared/kube/apply";
import {
  LABEL_DEPLOYMENT,
  MANAGED_BY_WORKSPACE_AGENT,
  managedBySelector,
} from "@meridian/shared/kube/labels";
import {
  CONFIG_MAPS,
  type KubeList,
  type KubeObject,
  NAMESPACES,
  resourcePath,
  SECRETS,
} from "@meridian/shared/kube/resources";
import { watchEvents } from "@meridian/shared/kube/watch";
import { workspaceLabels } from "./labels.ts";
import type { LifecycleDeps } from "./lifecycle.ts";
import { NAMES, namespaceName } from "./objects.ts";

/** The field manager of the deleting mark alone, so the apply path's own fields are never touched. */
export const FIELD_MANAGER_DELETION = "meridian-agent-deletion";

/** One Flink deployment still in the namespace, as its persisted lifecycle state tells. */
export interface PendingDeployment {
  name: string;
  /** The delete operation's current step (savepoint, awaitSavepoint, cancel, removePods, ...). */
  step?: string;
  blocked?: { reason: string; message: string };
}

/** What the drain found; kept on the workspace's record and reported in its status. */
export interface DrainProgress {
  pending: PendingDeployment[];
  /** Per deployment ever seen while draining: its newest restorable savepoint (null: none). */
  finalState: Record<string, string | null>;
  forced: boolean;
  /** The resourceVersion of the last list, from which a vanished ConfigMap's last state is replayed. */
  listedAt?: string;
}

export type DrainStep = { state: "drained"; writes: number } | { state: "draining"; writes: number };

interface LooseState {
  op?: { kind?: string; step?: string; savepoint?: string; blocked?: { reason?: string; message?: string } };
  savepoints?: { location?: string }[];
}

function readState(cm: KubeObject): LooseState | undefined {
  const text = cm.metadata?.annotations?.[ANNOTATION_LIFECYCLE_STATE];
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" ? (v as LooseState) : undefined;
  } catch {
    return undefined;
  }
}

/** Folds one Flink ConfigMap's newest savepoint into `finalState`; its deployment name and state. */
function foldFinalState(cm: KubeObject, progress: DrainProgress) {
  const name = cm.metadata?.labels?.[LABEL_DEPLOYMENT];
  if (!name) return undefined;
  const state = readState(cm);
  const newest = state?.op?.savepoint ?? state?.savepoints?.at(-1)?.location;
  if (newest) progress.finalState[name] = newest;
  else if (!(name in progress.finalState)) progress.finalState[name] = null;
  return { name, state };
}

/** Folds the workspace agent's Flink ConfigMaps into `progress` (pure; exported for tests). */
export function readDeployments(configMaps: KubeObject[], progress: DrainProgress): void {
  progress.pending = [];
  for (const cm of configMaps) {
    const folded = foldFinalState(cm, progress);
    if (!folded) continue;
    const { name, state } = folded;
    const p: PendingDeployment = { name };
    if (state?.op?.kind === "delete" && state.op.step) p.step = state.op.step;
    const b = state?.op?.blocked;
    if (b) p.blocked = { reason: b.reason ?? "Blocked", message: b.message ?? "" };
    progress.pending.push(p);
  }
  progress.pending.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The deletion of workspace `id` had begun (its credential Secret carries the mark): an agent that
 * restarted mid-drain forgot the delete, and resumes it rather than starting an orphan grace period.
 */
export function deletionStarted(deps: LifecycleDeps, id: string): boolean {
  const ns = namespaceName(deps.namespacePrefix, id);
  const secret = deps.caches.get<KubeObject>(SECRETS, ns, NAMES.secret);
  return secret?.metadata?.annotations?.[ANNOTATION_WORKSPACE_DELETING] !== undefined;
}

/**
 * One step of the drain of workspace `id`: marks the credential Secret (once), reads what is left.
 * "drained" when nothing is left, the namespace is gone or already terminating, or the namespace
 * carries the force annotation.
 */
export async function drainWorkspace(
  deps: LifecycleDeps,
  id: string,
  progress: DrainProgress,
  signal: AbortSignal,
): Promise<DrainStep> {
  const ns = namespaceName(deps.namespacePrefix, id);
  const namespace = deps.caches.get<KubeObject>(NAMESPACES, undefined, ns);
  if (!namespace || namespace.metadata?.deletionTimestamp) return { state: "drained", writes: 0 };
  if (namespace.metadata?.annotations?.[ANNOTATION_FORCE_DELETE] === "true") {
    progress.forced = true;
    return { state: "drained", writes: 0 };
  }
  let writes = 0;
  // Marked even when the Secret is not there yet (a workspace deleted before its first credential):
  // a workspace agent that reads it later must not start anything either.
  const secret = deps.caches.get<KubeObject>(SECRETS, ns, NAMES.secret);
  if (!secret?.metadata?.annotations?.[ANNOTATION_WORKSPACE_DELETING]) {
    const mark = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: NAMES.secret,
        namespace: ns,
        labels: workspaceLabels(id),
        annotations: { [ANNOTATION_WORKSPACE_DELETING]: new Date(deps.now()).toISOString() },
      },
    };
    const applied = await applyObject(deps.kube, SECRETS, mark, {
      fieldManager: FIELD_MANAGER_DELETION,
      signal,
    });
    deps.caches.noteWritten(SECRETS, applied);
    writes++;
    void deps.recorder.record(
      namespace,
      "Normal",
      "Draining",
      `deleting workspace ${id}: its Flink deployments are stopped (with a savepoint where their upgrade mode keeps state) before the namespace is deleted`,
    );
  }
  const list = await deps.kube.request<KubeList>({
    method: "GET",
    path: resourcePath(CONFIG_MAPS, ns),
    query: { labelSelector: managedBySelector(MANAGED_BY_WORKSPACE_AGENT) },
    signal,
  });
  const before = progress.pending.map((p) => p.name);
  const previousList = progress.listedAt;
  readDeployments(list.items, progress);
  progress.listedAt = list.metadata?.resourceVersion;
  const vanished = before.filter((n) => !progress.pending.some((p) => p.name === n));
  if (vanished.length && previousList)
    await replayVanished(deps, ns, previousList, vanished, progress, signal);
  return { state: progress.pending.length === 0 ? "drained" : "draining", writes };
}

/** How long the replay of vanished ConfigMaps may take (a watch from a recent resourceVersion). */
const REPLAY_TIMEOUT_SECONDS = 3;

/**
 * A deployment's ConfigMap went between two lists: the workspace agent may have recorded its final
 * savepoint and deleted the ConfigMap in between. A watch from the earlier list's resourceVersion
 * replays every change since, the DELETED event carrying the ConfigMap's last state; what it says is
 * folded into the final state. Best effort: a compacted resourceVersion (410) leaves what was seen.
 */
async function replayVanished(
  deps: LifecycleDeps,
  ns: string,
  resourceVersion: string,
  vanished: string[],
  progress: DrainProgress,
  outer: AbortSignal,
): Promise<void> {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  outer.addEventListener("abort", stop, { once: true });
  const left = new Set(vanished);
  try {
    for await (const e of watchEvents(deps.kube, {
      path: resourcePath(CONFIG_MAPS, ns),
      resourceVersion,
      labelSelector: managedBySelector(MANAGED_BY_WORKSPACE_AGENT),
      timeoutSeconds: REPLAY_TIMEOUT_SECONDS,
      idleTimeoutMs: (REPLAY_TIMEOUT_SECONDS + 2) * 1000,
      signal: ctl.signal,
    })) {
      if (e.type === "ERROR") break;
      if (e.type === "BOOKMARK") continue;
      const folded = foldFinalState(e.object, progress);
      if (folded && e.type === "DELETED") left.delete(folded.name);
      if (left.size === 0) break;
    }
  } catch {
    // Best effort: the final state stays as the lists saw it.
  } finally {
    outer.removeEventListener("abort", stop);
    ctl.abort();
  }
}
