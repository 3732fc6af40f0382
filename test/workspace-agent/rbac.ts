// What the agent creates in a workspace namespace for its workspace agent: Namespace (enforcing Pod
// Security `restricted`, as the agent's do by default), ServiceAccount, and the RoleBinding that binds
// the chart's ClusterRole to it. The ClusterRoles are made from the chart's own files
// (helm/meridian-agent/files/*-clusterrole-rules.yaml), so the tests run under exactly what the agent
// grants, and every Flink pod the workspace agent creates is admitted under `restricted`.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { DEFAULT_POD_SECURITY, podSecurityLabels } from "../../agent/src/workspace/hardening.ts";
import { buildRoleBinding } from "../../agent/src/workspace/objects.ts";

const FILES = new URL("../../helm/meridian-agent/files/", import.meta.url);

/** The chart's ClusterRoles under the names the tests use (the chart's, for release meridian-agent). */
export const TEST_CLUSTER_ROLES = {
  workspaceAgent: "meridian-agent-workspace-agent",
  flink: "meridian-agent-flink",
} as const;

/** ClusterRole `name` with the rules of the chart file `file`. */
export function chartClusterRole(file: string, name: string) {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name },
    rules: parse(readFileSync(new URL(file, FILES), "utf8")),
  };
}

export function workspaceAgentRbac(namespace: string, workspaceId: string) {
  const labels = {
    "app.kubernetes.io/part-of": "meridian",
    "app.kubernetes.io/managed-by": "meridian-agent",
    "app.kubernetes.io/component": "workspace-agent",
    "meridian.dev/workspace": workspaceId,
  };
  const name = "meridian-workspace-agent";
  return [
    chartClusterRole("workspace-agent-clusterrole-rules.yaml", TEST_CLUSTER_ROLES.workspaceAgent),
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: namespace, labels: { ...labels, ...podSecurityLabels(DEFAULT_POD_SECURITY) } },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      ...buildRoleBinding(workspaceId, namespace, TEST_CLUSTER_ROLES.workspaceAgent),
      metadata: { name, namespace, labels },
    },
  ];
}
