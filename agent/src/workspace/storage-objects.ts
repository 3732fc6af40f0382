// What a workspace's storage and cloud identity become (pure): the Flink ServiceAccount
// `meridian-flink` with the identity annotations the cloud's webhook reads, its Role for Flink's
// Kubernetes HA services (ConfigMaps of its own namespace only), and the environment that tells the
// workspace agent where its deployments keep their state and how Flink pods reach it.
// The spec has passed the local policy (storage-policy.ts) before any of this is built.
import {
  WORKSPACE_AGENT_ENV as ENV,
  type EnvVar,
  FLINK_SERVICE_ACCOUNT,
} from "@meridian/shared/contract/workspace-agent-env";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { WorkspaceSpec } from "@meridian/shared/protocol/index";
import type { BuildContext } from "./build-context.ts";
import { workspaceLabels } from "./labels.ts";

/** IRSA (EKS): the role the pod identity webhook gives pods of this ServiceAccount. */
export const ANNOTATION_AWS_ROLE_ARN = "eks.amazonaws.com/role-arn";
/** Azure Workload Identity: the client (and tenant) of the federated credential. */
export const ANNOTATION_AZURE_CLIENT_ID = "azure.workload.identity/client-id";
export const ANNOTATION_AZURE_TENANT_ID = "azure.workload.identity/tenant-id";

/**
 * The RoleBinding that lets the Flink pods run Kubernetes HA, and the name of the Role the previous
 * version created beside it (deleted on upgrade, decision 53).
 */
export const FLINK_HA_ROLE = FLINK_SERVICE_ACCOUNT;

/**
 * Binds the chart's ClusterRole <fullname>-flink (files/flink-clusterrole-rules.yaml: Flink's
 * Kubernetes HA ConfigMaps, nothing else) to the Flink pods' ServiceAccount in the workspace namespace
 * only. The chart's confinement policy further holds meridian-flink to ConfigMaps that are not Meridian's.
 */
export function buildFlinkRoleBinding(spec: WorkspaceSpec, ns: string, clusterRole: string): KubeObject {
  return {
    metadata: { name: FLINK_HA_ROLE, namespace: ns, labels: workspaceLabels(spec.id, "flink") },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole },
    subjects: [{ kind: "ServiceAccount", name: FLINK_SERVICE_ACCOUNT, namespace: ns }],
  };
}

/**
 * The ServiceAccount Flink pods run as: only its HA RoleBinding (buildFlinkRoleBinding), no API token mounted by
 * default (the workspace agent projects one into the Flink container of a deployment that runs HA; the
 * cloud webhooks project their own audience-bound tokens), and the identity annotations of the
 * workspace's spec. EKS Pod Identity needs no annotation: its
 * association names the namespace and this ServiceAccount (docs/install.md).
 */
export function buildFlinkServiceAccount(spec: WorkspaceSpec, ns: string): KubeObject {
  const annotations: Record<string, string> = {};
  const id = spec.identity;
  if (id?.awsRoleArn) annotations[ANNOTATION_AWS_ROLE_ARN] = id.awsRoleArn;
  if (id?.azureClientId) annotations[ANNOTATION_AZURE_CLIENT_ID] = id.azureClientId.toLowerCase();
  if (id?.azureTenantId) annotations[ANNOTATION_AZURE_TENANT_ID] = id.azureTenantId.toLowerCase();
  const metadata: KubeObject["metadata"] = {
    name: FLINK_SERVICE_ACCOUNT,
    namespace: ns,
    labels: workspaceLabels(spec.id, "flink"),
  };
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  return { metadata, automountServiceAccountToken: false };
}

/** The storage and identity part of the workspace agent's environment (contract variables and values). */
export function storageEnv(spec: WorkspaceSpec, ctx: Pick<BuildContext, "storageS3">): [EnvVar, string][] {
  const out: [EnvVar, string][] = [[ENV.flinkServiceAccount, FLINK_SERVICE_ACCOUNT]];
  if (spec.storage) {
    out.push([ENV.storageBaseURI, spec.storage.baseURI.replace(/\/+$/, "")]);
    if (spec.storage.credentialsSecret)
      out.push([ENV.storageCredentialsSecret, spec.storage.credentialsSecret]);
  }
  if (ctx.storageS3?.endpoint) {
    out.push([ENV.storageS3Endpoint, ctx.storageS3.endpoint]);
    out.push([ENV.storageS3PathStyleAccess, String(ctx.storageS3.pathStyleAccess)]);
  }
  if (spec.identity?.azureClientId)
    out.push([ENV.flinkAzureClientId, spec.identity.azureClientId.toLowerCase()]);
  if (spec.identity?.azureTenantId)
    out.push([ENV.flinkAzureTenantId, spec.identity.azureTenantId.toLowerCase()]);
  return out;
}
