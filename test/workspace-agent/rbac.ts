// What the agent creates in a workspace namespace for its workspace agent: Namespace (enforcing Pod
// Security `restricted`, as the agent's do by default), ServiceAccount, Role and RoleBinding. The Role's
// rules are the agent's own (agent/src/workspace/objects.ts), so the tests run under exactly what the
// agent grants, and every Flink pod the workspace agent creates is admitted under `restricted`.
import { DEFAULT_POD_SECURITY, podSecurityLabels } from "../../agent/src/workspace/hardening.ts";
import { workspaceAgentRoleRules } from "../../agent/src/workspace/objects.ts";

export function workspaceAgentRbac(namespace: string, workspaceId: string) {
  const labels = {
    "app.kubernetes.io/part-of": "meridian",
    "app.kubernetes.io/managed-by": "meridian-agent",
    "app.kubernetes.io/component": "workspace-agent",
    "meridian.dev/workspace": workspaceId,
  };
  const name = "meridian-workspace-agent";
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: namespace, labels: { ...labels, ...podSecurityLabels(DEFAULT_POD_SECURITY) } },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace, labels },
      rules: workspaceAgentRoleRules(),
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  ];
}
