// Invariant (b), "no wrongful deletion": every object Meridian must keep, by uid, read straight from
// the API server before and after a fault. Meridian's own objects (label part-of=meridian) in every
// namespace, the workspace and system namespaces, and the customer's objects the campaign planted
// (an unlabelled namespace and ConfigMap that Meridian must never touch). After a fault each object
// must still be there with the same uid (a new uid means it was deleted and recreated), except pods
// the scenario itself killed or replaced.
import type { Cluster } from "../cluster/index.ts";

export interface InventoryItem {
  key: string;
  uid: string;
}

export type Inventory = Map<string, InventoryItem>;

const PART_OF = "app.kubernetes.io/part-of%3Dmeridian";
/** Kinds Meridian creates, with their list paths across namespaces. */
const KINDS: Array<[kind: string, path: string]> = [
  ["Namespace", "/api/v1/namespaces"],
  ["ConfigMap", "/api/v1/configmaps"],
  ["Secret", "/api/v1/secrets"],
  ["Service", "/api/v1/services"],
  ["ServiceAccount", "/api/v1/serviceaccounts"],
  ["Pod", "/api/v1/pods"],
  ["ResourceQuota", "/api/v1/resourcequotas"],
  ["Deployment", "/apis/apps/v1/deployments"],
  ["Role", "/apis/rbac.authorization.k8s.io/v1/roles"],
  ["RoleBinding", "/apis/rbac.authorization.k8s.io/v1/rolebindings"],
  ["NetworkPolicy", "/apis/networking.k8s.io/v1/networkpolicies"],
];

interface Meta {
  metadata: { name: string; namespace?: string; uid: string; deletionTimestamp?: string };
}

async function list(cluster: Cluster, path: string): Promise<Meta[]> {
  const res = await cluster.request("GET", path);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
  return (JSON.parse(res.body) as { items: Meta[] }).items;
}

const keyOf = (kind: string, m: Meta["metadata"]) =>
  `${kind} ${m.namespace ? `${m.namespace}/` : ""}${m.name}`;

/**
 * Reads the inventory. `extra` names further objects to keep by list path and name (the customer's,
 * which carry no Meridian label), e.g. ["Namespace", "/api/v1/namespaces", "customer-owned"].
 */
export async function takeInventory(
  cluster: Cluster,
  extra: Array<[kind: string, listPath: string, name: string]> = [],
): Promise<Inventory> {
  const inv: Inventory = new Map();
  const add = (kind: string, m: Meta["metadata"]) => {
    if (m.deletionTimestamp) return; // on its way out: not something to keep
    inv.set(keyOf(kind, m), { key: keyOf(kind, m), uid: m.uid });
  };
  for (const [kind, path] of KINDS) {
    for (const o of await list(cluster, `${path}?labelSelector=${PART_OF}`)) add(kind, o.metadata);
  }
  for (const [kind, path, name] of extra) {
    for (const o of await list(cluster, `${path}?fieldSelector=metadata.name%3D${name}`))
      add(kind, o.metadata);
  }
  return inv;
}

export interface InventoryDiff {
  /** Present before, absent after. */
  deleted: string[];
  /** Present before and after, with a new uid (deleted and recreated). */
  recreated: string[];
  /** Present only after (new pods of a replaced JobManager, say): not a violation. */
  added: string[];
  ok: boolean;
  summary: string;
}

/** Compares two inventories; `mayReplace(key)` exempts what the scenario killed on purpose. */
export function compareInventory(
  before: Inventory,
  after: Inventory,
  mayReplace: (key: string) => boolean = () => false,
): InventoryDiff {
  const deleted: string[] = [];
  const recreated: string[] = [];
  for (const [key, item] of before) {
    const now = after.get(key);
    if (!now) {
      if (!mayReplace(key)) deleted.push(key);
    } else if (now.uid !== item.uid && !mayReplace(key)) recreated.push(key);
  }
  const added = [...after.keys()].filter((k) => !before.has(k));
  const ok = deleted.length === 0 && recreated.length === 0;
  const summary = ok
    ? `${before.size} objects kept`
    : [
        deleted.length ? `deleted: ${deleted.join(", ")}` : "",
        recreated.length ? `recreated: ${recreated.join(", ")}` : "",
      ]
        .filter(Boolean)
        .join("; ");
  return { deleted, recreated, added, ok, summary };
}
