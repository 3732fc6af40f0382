// What the agent creates in a workspace namespace for its workspace agent: Namespace,
// ServiceAccount, Role and RoleBinding. The Role mirrors the contract in docs/CONVENTIONS.md
// (agent/src has no exported Role builder yet; replace this with it when it lands).
export function workspaceAgentRbac(namespace: string, workspaceId: string) {
  const labels = {
    "app.kubernetes.io/part-of": "meridian",
    "app.kubernetes.io/managed-by": "meridian-agent",
    "app.kubernetes.io/component": "workspace-agent",
    "meridian.dev/workspace": workspaceId,
  };
  const name = "meridian-workspace-agent";
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace, labels },
      rules: [
        // Flink pods and Services: created, watched, recreated and deleted by the workspace agent.
        {
          apiGroups: [""],
          resources: ["pods", "services"],
          verbs: ["get", "list", "watch", "create", "patch", "delete"],
        },
        // ConfigMaps: Flink config, owner of the pods, home of the persisted lifecycle state.
        {
          apiGroups: [""],
          resources: ["configmaps"],
          verbs: ["get", "list", "watch", "create", "patch", "update", "delete"],
        },
        // Events on the objects it manages.
        { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
        // Its own credential, by name only.
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: ["meridian-workspace-credential"],
          verbs: ["get", "watch"],
        },
      ],
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
