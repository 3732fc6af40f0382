// Whether an object is Meridian's, for one workspace: the only test either agent applies before it
// writes to or deletes an object that already exists. Meridian never adopts what it did not create,
// so its labels are the ownership record: an object is ours only when it says so, for this very
// workspace. Removing the labels releases an object (as with a Pod relabelled out of a ReplicaSet).

import { LABEL_MANAGED_BY, LABEL_WORKSPACE, type ManagedBy } from "./labels.ts";
import type { KubeObject } from "./resources.ts";

/**
 * Why `obj` is not `managedBy`'s for `workspaceId`, in a few words naming the labels; undefined when
 * it is (labelled `app.kubernetes.io/managed-by=<managedBy>` and `meridian.dev/workspace=<id>`).
 */
export function notOwnedReason(
  obj: Pick<KubeObject, "metadata">,
  managedBy: ManagedBy,
  workspaceId: string,
): string | undefined {
  const labels = obj.metadata?.labels ?? {};
  const manager = labels[LABEL_MANAGED_BY];
  const workspace = labels[LABEL_WORKSPACE];
  if (manager === managedBy && workspace === workspaceId) return undefined;
  const found: string[] = [];
  if (manager !== managedBy)
    found.push(
      manager === undefined
        ? `it has no label ${LABEL_MANAGED_BY}`
        : `its label ${LABEL_MANAGED_BY} is ${JSON.stringify(manager)}`,
    );
  if (workspace !== workspaceId)
    found.push(
      workspace === undefined
        ? `it has no label ${LABEL_WORKSPACE}`
        : `its label ${LABEL_WORKSPACE} is ${JSON.stringify(workspace)} (another workspace)`,
    );
  return `${found.join(" and ")}; Meridian's carry ${LABEL_MANAGED_BY}=${managedBy} and ${LABEL_WORKSPACE}=${workspaceId}`;
}

/** True when `obj` is `managedBy`'s object for `workspaceId` (see notOwnedReason). */
export function isOwnedBy(
  obj: Pick<KubeObject, "metadata"> | undefined,
  managedBy: ManagedBy,
  workspaceId: string,
): boolean {
  return obj !== undefined && notOwnedReason(obj, managedBy, workspaceId) === undefined;
}

/**
 * What a cache keeps of an object that is not Meridian's: its identity and labels, never its
 * contents (a customer's Secret or ConfigMap of the same name stays out of the agents' memory).
 */
export function identityOnly(obj: KubeObject): KubeObject {
  const m = obj.metadata ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      deletionTimestamp: m.deletionTimestamp,
    },
  };
}
