// The chart's image pull secrets (images.workspaceAgent.pullSecrets), kept as copies in every
// workspace namespace: the workspace agent's pod and, through MERIDIAN_FLINK_IMAGE_PULL_SECRETS, every
// Flink pod name them. The source is the Secret of that name in the agent's own namespace (watched by
// name, caches.ts); the copy carries the source's type and data, Meridian's labels and where it came
// from, and goes with the namespace. A Secret of that name in a workspace namespace that is not
// Meridian's (one an operator created by hand, as was needed before) is left alone and used as it is.
import type { KubeObject } from "@meridian/shared/kube/resources";
import { workspaceLabels } from "./labels.ts";

/** Where a copy came from: `<agent namespace>/<name>`. */
export const ANNOTATION_COPIED_FROM = "meridian.dev/copied-from";
export const COMPONENT_PULL_SECRET = "pull-secret";

/** The copy of `source` (a Secret in the agent's namespace) for workspace `id` in namespace `ns`. */
export function buildPullSecretCopy(id: string, ns: string, source: KubeObject): KubeObject {
  const s = source as KubeObject & { type?: string; data?: Record<string, string> };
  const name = s.metadata?.name ?? "";
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: ns,
      labels: workspaceLabels(id, COMPONENT_PULL_SECRET),
      annotations: { [ANNOTATION_COPIED_FROM]: `${s.metadata?.namespace}/${name}` },
    },
    type: s.type ?? "Opaque",
    data: { ...s.data },
  } as KubeObject;
}
