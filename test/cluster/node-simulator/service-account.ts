// Service-account tokens for simulated pods: TokenRequests bound to the pod
// (so the token dies with it), cached per audience and re-requested after 80% of
// their lifetime, and a per-pod kubeconfig carrying the default-audience token.
import { rename, writeFile } from "node:fs/promises";
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeApi } from "./kube-api.ts";

interface CachedToken {
  token: string;
  refreshAt: number;
}

interface TokenRequestStatus {
  status: { token: string; expirationTimestamp: string };
}

export class PodTokenSource {
  readonly #api: KubeApi;
  readonly #pod: V1Pod;
  readonly #cache = new Map<string, CachedToken>();

  constructor(api: KubeApi, pod: V1Pod) {
    this.#api = api;
    this.#pod = pod;
  }

  get serviceAccountName(): string {
    return this.#pod.spec?.serviceAccountName || "default";
  }

  /** A token for the pod's ServiceAccount; `audience` undefined means the API server's default audiences. */
  async token(audience: string | undefined, expirationSeconds = 3600): Promise<string> {
    const key = `${audience ?? ""}/${expirationSeconds}`;
    const cached = this.#cache.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const ns = this.#pod.metadata?.namespace ?? "default";
    const started = Date.now();
    const res = await this.#api.request<TokenRequestStatus>(
      "POST",
      `/api/v1/namespaces/${ns}/serviceaccounts/${this.serviceAccountName}/token`,
      {
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            audiences: audience ? [audience] : [],
            expirationSeconds,
            boundObjectRef: {
              apiVersion: "v1",
              kind: "Pod",
              name: this.#pod.metadata?.name,
              uid: this.#pod.metadata?.uid,
            },
          },
        },
      },
    );
    const expires = Date.parse(res.status.expirationTimestamp);
    const lifetime = Number.isFinite(expires) ? expires - started : expirationSeconds * 1000;
    this.#cache.set(key, { token: res.status.token, refreshAt: started + lifetime * 0.8 });
    return res.status.token;
  }

  /** True when some cached token is due for renewal. */
  dueForRefresh(now = Date.now()): boolean {
    for (const t of this.#cache.values()) if (now >= t.refreshAt) return true;
    return false;
  }
}

/** Where the kubelet mounts a ServiceAccount's token, CA and namespace (automounted or projected by hand). */
export const SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * True when a container mounts a projected ServiceAccount token at the standard path (a pod that sets
 * automountServiceAccountToken false and projects the token itself, e.g. Flink's Kubernetes HA): a
 * process on this machine cannot read that path, so it is given the kubeconfig instead, as automount does.
 */
export function mountsServiceAccountToken(pod: V1Pod): boolean {
  const projected = new Set(
    (pod.spec?.volumes ?? [])
      .filter((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))
      .map((v) => v.name),
  );
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((c) =>
    (c.volumeMounts ?? []).some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT && projected.has(m.name)),
  );
}

export function kubeconfigYaml(
  server: string,
  caPem: string | undefined,
  token: string,
  namespace: string,
): string {
  const ca = caPem ? `    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}\n` : "";
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: sim",
    "  cluster:",
    `    server: ${server}`,
    `${ca}users:`,
    "- name: pod",
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: pod",
    "  context:",
    "    cluster: sim",
    "    user: pod",
    `    namespace: ${namespace}`,
    "current-context: pod",
    "",
  ].join("\n");
}

/** Writes `content` to `path` atomically (temp file + rename), so readers never see half a file. */
export async function writeFileAtomic(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}
