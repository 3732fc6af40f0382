// The agent's HTTPS proxy, as each workspace agent receives it: a Secret in the workspace namespace
// (`meridian-workspace-proxy`, key `httpsProxy`) that the workspace agent's Deployment reads with a
// secretKeyRef, never the URL as a plain value in the Deployment (a proxy URL may carry a password,
// and a Deployment is read by far more people and tools than a Secret). Pure: apply.ts reads the
// observed Secret from the cache and passes the revision on to the builders.
import { randomBytes } from "node:crypto";
import {
  WORKSPACE_PROXY_SECRET,
  WORKSPACE_PROXY_SECRET_KEY,
} from "@meridian/shared/contract/workspace-agent-env";
import type { KubeObject } from "@meridian/shared/kube/resources";
import { workspaceLabels } from "./labels.ts";

/**
 * Which proxy URL the workspace agent pods were started with, on the proxy Secret and on the pod
 * template alike: a random value renewed whenever the URL changes, so a new URL rolls the pods (the
 * kubelet resolves a secretKeyRef only when a container starts) while nothing derived from the URL (not
 * even a hash, which a weak password would not survive) appears in the Deployment.
 */
export const ANNOTATION_PROXY_REVISION = "meridian.dev/proxy-revision";

/** The proxy Secret of one workspace. */
export function buildProxySecret(id: string, ns: string, httpsProxy: string, revision: string): KubeObject {
  return {
    metadata: {
      name: WORKSPACE_PROXY_SECRET,
      namespace: ns,
      labels: workspaceLabels(id),
      annotations: { [ANNOTATION_PROXY_REVISION]: revision },
    },
    type: "Opaque",
    data: { [WORKSPACE_PROXY_SECRET_KEY]: Buffer.from(httpsProxy, "utf8").toString("base64") },
  };
}

/**
 * The revision to build with: the observed Secret's while it holds `httpsProxy` (nothing changes, no
 * write, no roll), a new random one when it holds another URL or is missing. Undefined without a proxy.
 */
export function proxyRevision(
  observed: KubeObject | undefined,
  httpsProxy: string | undefined,
  random: () => string = () => randomBytes(8).toString("hex"),
): string | undefined {
  if (!httpsProxy) return undefined;
  const held = (observed?.data as Record<string, string> | undefined)?.[WORKSPACE_PROXY_SECRET_KEY];
  const revision = observed?.metadata?.annotations?.[ANNOTATION_PROXY_REVISION];
  const same = held !== undefined && Buffer.from(held, "base64").toString("utf8") === httpsProxy;
  return same && revision ? revision : random();
}
