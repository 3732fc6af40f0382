// Where the pods of a workspace namespace may connect outside it, from the agent's configuration: the
// cluster DNS, the Kubernetes API server and the control plane (or the HTTPS proxy in front of it). The
// chart passes its networkPolicy values here (MERIDIAN_WORKSPACE_EGRESS); the customer's own
// destinations for Flink come from the local policy (allowedEgress). network-policies.ts renders both.
import { jsonText } from "@meridian/shared/process/setting-schemas";
import { z } from "zod";
import { cidr } from "../hardening-policy.ts";

const port = z.int().min(1).max(65535);
const endpoints = z.strictObject({
  /** Empty: any address, on `ports` only. */
  cidrs: z.array(cidr).default([]),
  ports: z.array(port).min(1).optional(),
});

const egressSchema = z.strictObject({
  dns: z
    .strictObject({
      namespace: z.string().min(1).default("kube-system"),
      podLabels: z.record(z.string(), z.string()).default({ "k8s-app": "kube-dns" }),
    })
    .default({ namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } }),
  apiServer: endpoints.default({ cidrs: [] }),
  controlPlane: endpoints.default({ cidrs: [] }),
});

/** The setting as given; ports left out are filled in by `resolveEgress`. */
export type WorkspaceEgressSetting = z.output<typeof egressSchema>;

export interface Endpoints {
  cidrs: string[];
  ports: number[];
}

export interface WorkspaceEgress {
  dns: { namespace: string; podLabels: Record<string, string> };
  apiServer: Endpoints;
  controlPlane: Endpoints;
}

export const DEFAULT_EGRESS_SETTING: WorkspaceEgressSetting = egressSchema.parse({});

/** The API server's usual ports: 443 on EKS and AKS, 6443 on many self-managed clusters. */
export const API_SERVER_PORTS = [443, 6443];

/** The setting's schema: JSON text in (unset: the defaults), the setting out. */
export const workspaceEgressSetting = jsonText(egressSchema, DEFAULT_EGRESS_SETTING);

/** The port a URL is reached on (its own, else its scheme's). */
function urlPort(url: string): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
}

/**
 * The setting with every port known: the control plane's from the proxy's URL when there is a proxy,
 * else from the control plane's URL; the API server's 443 and 6443.
 */
export function resolveEgress(
  s: WorkspaceEgressSetting,
  urls: { controlPlaneUrl: string; httpsProxy?: string | undefined },
): WorkspaceEgress {
  const dialled = urls.httpsProxy || urls.controlPlaneUrl;
  return {
    dns: s.dns,
    apiServer: { cidrs: s.apiServer.cidrs, ports: s.apiServer.ports ?? API_SERVER_PORTS },
    controlPlane: { cidrs: s.controlPlane.cidrs, ports: s.controlPlane.ports ?? [urlPort(dialled)] },
  };
}
