// What is in the cluster, for "nothing else changed" assertions around a hostile input: every
// namespace by name, and every object Meridian labelled with what would move if Meridian wrote to it
// (its uid, generation, labels, annotations, and the times of Meridian's own managedFields entries).
// Controllers' writes (a Deployment's status, a ServiceAccount token) are deliberately not compared.
import type { KubeClient } from "@meridian/shared/kube/client";
import type { KubeObject } from "@meridian/shared/kube/resources";

const PART_OF = "app.kubernetes.io/part-of=meridian";
/** Kinds Meridian creates, as cluster-wide list paths. */
const KINDS = [
  "/api/v1/namespaces",
  "/api/v1/serviceaccounts",
  "/api/v1/secrets",
  "/api/v1/configmaps",
  "/api/v1/services",
  "/api/v1/pods",
  "/api/v1/resourcequotas",
  "/apis/rbac.authorization.k8s.io/v1/roles",
  "/apis/rbac.authorization.k8s.io/v1/rolebindings",
  "/apis/networking.k8s.io/v1/networkpolicies",
  "/apis/apps/v1/deployments",
];

type Obj = KubeObject & {
  metadata?: KubeObject["metadata"] & {
    uid?: string;
    generation?: number;
    managedFields?: { manager?: string; operation?: string; time?: string }[];
  };
};

export type Inventory = Record<string, unknown>;

export async function inventory(admin: KubeClient): Promise<Inventory> {
  const out: Inventory = {};
  const all = await admin.request<{ items: Obj[] }>({ method: "GET", path: "/api/v1/namespaces" });
  for (const ns of all.items) out[`namespace/${ns.metadata?.name}`] = true;
  for (const path of KINDS) {
    const list = await admin.request<{ items: Obj[] }>({
      method: "GET",
      path,
      query: { labelSelector: PART_OF },
    });
    const kind = path.split("/").at(-1);
    for (const o of list.items) {
      const m = o.metadata ?? {};
      out[`${kind}/${m.namespace ?? ""}/${m.name}`] = {
        uid: m.uid,
        generation: m.generation,
        labels: m.labels,
        annotations: m.annotations,
        meridianWrites: (m.managedFields ?? [])
          .filter((f) => f.manager?.startsWith("meridian"))
          .map((f) => `${f.manager} ${f.operation} ${f.time}`),
      };
    }
  }
  return out;
}

/** Names of namespaces whose name starts with `prefix` (default the workspace prefix `mw-`). */
export function namespaces(inv: Inventory, prefix = "mw-"): string[] {
  return Object.keys(inv)
    .filter((k) => k.startsWith(`namespace/${prefix}`))
    .map((k) => k.slice("namespace/".length))
    .sort();
}

/** The keys added, removed and changed between two inventories. */
export function diff(
  before: Inventory,
  after: Inventory,
): { added: string[]; removed: string[]; changed: string[] } {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const k of [...keys].sort()) {
    if (!(k in before)) added.push(k);
    else if (!(k in after)) removed.push(k);
    else if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) changed.push(k);
  }
  return { added, removed, changed };
}
