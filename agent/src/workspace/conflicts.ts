// Before the agent writes anything for a workspace: does an object of one of the names it would
// write already exist without being Meridian's (see @meridian/shared/kube/ownership)? Then the
// workspace is refused whole, nothing is written, and the conflict is reported with its fix. Read
// from the watch caches (which see every object of those names), so the check costs no request.
import { MANAGED_BY_AGENT } from "@meridian/shared/kube/labels";
import { notOwnedReason } from "@meridian/shared/kube/ownership";
import { NAMESPACES, type ResourceType, SECRETS } from "@meridian/shared/kube/resources";
import type { OwnedCaches } from "../caches.ts";
import { type DesiredObject, NAMES, namespaceName } from "./objects.ts";

/** One object that is in the way, and what to do about it. */
export interface OwnershipConflict {
  kind: string;
  namespace?: string;
  name: string;
  message: string;
}

interface Target {
  type: ResourceType;
  namespace?: string;
  name: string;
}

/**
 * The objects among `desired` (and the credential Secret, which is built later) that exist and are
 * not Meridian's for workspace `id`. The Namespace comes first; empty when nothing is in the way.
 */
export function findConflicts(
  caches: Pick<OwnedCaches, "foreign">,
  id: string,
  prefix: string,
  desired: readonly DesiredObject[],
): OwnershipConflict[] {
  const targets: Target[] = desired.map((d) => ({
    type: d.type,
    namespace: d.object.metadata?.namespace,
    name: d.object.metadata?.name ?? "",
  }));
  targets.push({ type: SECRETS, namespace: namespaceName(prefix, id), name: NAMES.secret });
  const out: OwnershipConflict[] = [];
  for (const t of targets) {
    const found = caches.foreign(t.type, t.namespace, t.name);
    if (found) out.push(describeConflict(t, notOwnedReason(found, MANAGED_BY_AGENT, id) ?? "", id));
  }
  return out;
}

/** The status message for one conflict: the object, why it is not Meridian's, and the ways out. */
export function describeConflict(t: Target, why: string, id: string): OwnershipConflict {
  const isNamespace = t.type === NAMESPACES;
  const what = isNamespace ? `Namespace ${t.name}` : `${t.type.kind} ${t.namespace}/${t.name}`;
  const fix = isNamespace
    ? "choose another workspace id or local-policy namespacePrefix, or remove the namespace"
    : `remove or rename that ${t.type.kind} (Meridian needs the name)`;
  const message =
    `${what} already exists and is not Meridian's (${why}); workspace ${id} is refused and nothing ` +
    `was written or deleted. To fix: ${fix}; if Meridian created it and only its labels were removed, ` +
    "put the labels back";
  return { kind: t.type.kind, namespace: t.namespace, name: t.name, message };
}
