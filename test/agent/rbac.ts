// Installs the agent's RBAC into a test cluster exactly as the chart does: the ClusterRoles as
// `helm template` renders them from the chart's files (helm/meridian-agent/files: the agent's rules with
// `bind` on the two workspace ClusterRoles, and those two), the leader-election Role from its file; and
// returns a kubeconfig for the agent's ServiceAccount. Tests run the agent with this kubeconfig only,
// never as admin.
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import type { Cluster } from "../cluster/index.ts";
import { one, render } from "../helm/helm.ts";

const FILES = new URL("../../helm/meridian-agent/files/", import.meta.url);

export async function loadRules(
  file: "agent-clusterrole-rules.yaml" | "agent-leader-election-role-rules.yaml",
) {
  return parse(await readFile(new URL(file, FILES), "utf8")) as unknown[];
}

export interface AgentRbac {
  namespace: string;
  serviceAccount: string;
  kubeconfig: string;
  /** The chart's ClusterRoles the agent binds in each workspace namespace (its settings name them). */
  clusterRoles: { workspaceAgent: string; flink: string; drain: string };
}

/** Creates namespace, ServiceAccount, ClusterRole(+Binding) and leader-election Role(+Binding) as admin. */
export async function installAgentRbac(
  cluster: Cluster,
  namespace = "meridian-system",
  serviceAccount = "meridian-agent",
): Promise<AgentRbac> {
  const apply = async (path: string, obj: Record<string, unknown>) => {
    const created = await cluster.request("POST", path, obj);
    if (created.status >= 400 && created.status !== 409)
      throw new Error(`creating ${JSON.stringify(obj.metadata)} answered ${created.status}: ${created.body}`);
  };
  const clusterRole = `${serviceAccount}-${namespace}`;
  // The chart names its ClusterRoles after the release's full name, which is the ServiceAccount's.
  const manifests = await render(["defaults"], { fullnameOverride: serviceAccount });
  const clusterRoles = {
    workspaceAgent: `${serviceAccount}-workspace-agent`,
    flink: `${serviceAccount}-flink`,
    drain: `${serviceAccount}-drain`,
  };
  for (const name of Object.values(clusterRoles)) {
    const { rules } = one(manifests, "ClusterRole", name);
    await apply("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name },
      rules,
    });
  }
  await apply("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  await apply(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: serviceAccount, namespace },
  });
  await apply("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: clusterRole },
    rules: one(manifests, "ClusterRole", serviceAccount).rules,
  });
  await apply("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: clusterRole },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole },
    subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
  });
  await apply(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: `${serviceAccount}-leader-election`, namespace },
    rules: await loadRules("agent-leader-election-role-rules.yaml"),
  });
  await apply(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: `${serviceAccount}-leader-election`, namespace },
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: `${serviceAccount}-leader-election`,
    },
    subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
  });
  const kubeconfig = await cluster.serviceAccountKubeconfig(namespace, serviceAccount, {
    expirationSeconds: 86400,
  });
  return { namespace, serviceAccount, kubeconfig, clusterRoles };
}
