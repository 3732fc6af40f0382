// The resource kinds Meridian touches, and the one place that turns (kind, namespace, name)
// into an API path. Adding a kind is one entry here.

export interface ResourceType {
  /** `v1` for the core group, else `<group>/<version>`. */
  apiVersion: string;
  kind: string;
  /** Lowercase plural, as in the URL and in RBAC rules. */
  plural: string;
  namespaced: boolean;
}

const rt = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceType => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

export const NAMESPACES = rt("v1", "Namespace", "namespaces", false);
export const SERVICE_ACCOUNTS = rt("v1", "ServiceAccount", "serviceaccounts");
export const SECRETS = rt("v1", "Secret", "secrets");
export const CONFIG_MAPS = rt("v1", "ConfigMap", "configmaps");
export const SERVICES = rt("v1", "Service", "services");
export const PODS = rt("v1", "Pod", "pods");
export const EVENTS = rt("v1", "Event", "events");
export const RESOURCE_QUOTAS = rt("v1", "ResourceQuota", "resourcequotas");
export const LIMIT_RANGES = rt("v1", "LimitRange", "limitranges");
export const ROLES = rt("rbac.authorization.k8s.io/v1", "Role", "roles");
export const ROLE_BINDINGS = rt("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings");
export const CLUSTER_ROLES = rt("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false);
export const CLUSTER_ROLE_BINDINGS = rt(
  "rbac.authorization.k8s.io/v1",
  "ClusterRoleBinding",
  "clusterrolebindings",
  false,
);
export const NETWORK_POLICIES = rt("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies");
export const DEPLOYMENTS = rt("apps/v1", "Deployment", "deployments");
export const LEASES = rt("coordination.k8s.io/v1", "Lease", "leases");

/**
 * `/api/v1/namespaces/ns/pods/name`, `/apis/apps/v1/deployments` (all namespaces when `namespace`
 * is undefined), with an optional subresource (`status`, `log`).
 */
export function resourcePath(
  type: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = type.apiVersion === "v1" ? "/api/v1" : `/apis/${type.apiVersion}`;
  const ns = type.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const n = name !== undefined ? `/${encodeURIComponent(name)}` : "";
  const sub = name !== undefined && subresource ? `/${subresource}` : "";
  return `${base}${ns}/${type.plural}${n}${sub}`;
}

/** The minimal shape of every Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  [key: string]: unknown;
}

export interface KubeList<T extends KubeObject = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key of every cache. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function keyOf(obj: KubeObject): string {
  return objectKey(obj.metadata?.namespace, obj.metadata?.name ?? "");
}
