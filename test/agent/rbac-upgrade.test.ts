// Upgrading from the version that made a Role per workspace namespace (decision 53): the agent replaces
// each RoleBinding whose roleRef is its old Role (a roleRef is immutable: delete by name and uid, then
// create) with one that references the chart's ClusterRole, and deletes the old Role it made, while a
// Role of that name that is not Meridian's is left alone. The workspace agent keeps its rights.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createKubeClient } from "@meridian/shared/kube/client";
import type { KubeObject } from "@meridian/shared/kube/resources";
import { DEFAULT_POD_SECURITY, podSecurityLabels } from "../../agent/src/workspace/hardening.ts";
import { workspaceLabels } from "../../agent/src/workspace/labels.ts";
import { chartClusterRole } from "../workspace-agent/rbac.ts";
import { tryWrite } from "./confinement.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";
import { restrictedPod } from "./restricted-pod.ts";

let h: Harness;
const RBAC = "/apis/rbac.authorization.k8s.io/v1";
// biome-ignore lint/suspicious/noExplicitAny: tests read nested fields freely
type Loose = KubeObject & Record<string, any>;

/** What the previous version made in workspace `id`'s namespace: a Role and its RoleBinding per name. */
async function previousVersion(id: string): Promise<Record<string, string>> {
  const ns = `mw-${id}`;
  await h.admin.request({
    method: "POST",
    path: "/api/v1/namespaces",
    body: {
      metadata: { name: ns, labels: { ...workspaceLabels(id), ...podSecurityLabels(DEFAULT_POD_SECURITY) } },
    },
  });
  const uids: Record<string, string> = {};
  for (const [name, file, component] of [
    ["meridian-workspace-agent", "workspace-agent-clusterrole-rules.yaml", undefined],
    ["meridian-flink", "flink-clusterrole-rules.yaml", "flink"],
  ] as const) {
    const labels = workspaceLabels(id, component);
    const role = await h.admin.request<Loose>({
      method: "POST",
      path: `${RBAC}/namespaces/${ns}/roles`,
      body: { metadata: { name, labels }, rules: chartClusterRole(file, name).rules },
    });
    uids[`Role/${name}`] = role.metadata?.uid ?? "";
    const binding = await h.admin.request<Loose>({
      method: "POST",
      path: `${RBAC}/namespaces/${ns}/rolebindings`,
      body: {
        metadata: { name, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
      },
    });
    uids[`RoleBinding/${name}`] = binding.metadata?.uid ?? "";
  }
  return uids;
}

before(async () => {
  h = await startHarness();
});
after(() => h?.stop());

test("an upgraded agent binds the chart's ClusterRoles instead of its old Roles, and deletes only its own Roles", async () => {
  const old = await previousVersion("old");
  // Someone else's Role of the agent's old name in another workspace: never the agent's to delete.
  await previousVersion("other");
  await h.admin.request({
    method: "PATCH",
    path: `${RBAC}/namespaces/mw-other/roles/meridian-flink`,
    body: { metadata: { labels: { "app.kubernetes.io/managed-by": "someone" } } },
    contentType: "application/merge-patch+json",
  });
  await h.startAgent();
  for (const id of ["old", "other"])
    await h.cp.admin.putWorkspace(h.agentId, id, { quota: { cpu: "4", memory: "8Gi" } });

  const roles = h.rbac.clusterRoles;
  const expected: Record<string, string> = {
    "meridian-workspace-agent": roles.workspaceAgent,
    "meridian-flink": roles.flink,
  };
  for (const [name, clusterRole] of Object.entries(expected)) {
    const binding = await waitFor(
      `RoleBinding ${name} in mw-old to reference ClusterRole ${clusterRole}`,
      async () => {
        const b = await h.admin.getOrUndefined<Loose>(`${RBAC}/namespaces/mw-old/rolebindings/${name}`);
        return b?.roleRef?.kind === "ClusterRole" ? b : undefined;
      },
    );
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: clusterRole,
    });
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name, namespace: "mw-old" }]);
    assert.notEqual(
      binding.metadata?.uid,
      old[`RoleBinding/${name}`],
      "a new object: the roleRef cannot change in place",
    );
    await waitFor(`the old Role ${name} in mw-old to be deleted`, async () => {
      const role = await h.admin.getOrUndefined(`${RBAC}/namespaces/mw-old/roles/${name}`);
      return role === undefined;
    });
  }
  // The agent's own binding for the deletion drain's ConfigMap reads, new in this version.
  const drain = await waitFor("RoleBinding meridian-agent-drain in mw-old", () =>
    h.admin.getOrUndefined<Loose>(`${RBAC}/namespaces/mw-old/rolebindings/meridian-agent-drain`),
  );
  assert.deepEqual(drain.subjects, [
    { kind: "ServiceAccount", name: h.rbac.serviceAccount, namespace: h.rbac.namespace },
  ]);
  // The workspace agent keeps its rights: the ClusterRole grants what its Role did.
  const asWorkspaceAgent = await createKubeClient({
    kubeconfig: await h.cluster.serviceAccountKubeconfig("mw-old", "meridian-workspace-agent"),
  });
  try {
    const pod = restrictedPod(
      "jm",
      { "app.kubernetes.io/managed-by": "meridian-workspace-agent" },
      { image: "flink:2.1" },
    );
    const res = await tryWrite(asWorkspaceAgent, "POST", "/api/v1/namespaces/mw-old/pods", pod, {
      dryRun: true,
    });
    assert.equal(res.status, 201, res.message);
    const cms = await tryWrite(asWorkspaceAgent, "GET", "/api/v1/namespaces/mw-old/configmaps");
    assert.equal(cms.status, 200, cms.message);
  } finally {
    await asWorkspaceAgent.close();
  }
  // In mw-other: its own Role of the workspace agent went, someone else's meridian-flink Role stays.
  await waitFor("the old Role meridian-workspace-agent in mw-other to be deleted", async () => {
    const role = await h.admin.getOrUndefined(`${RBAC}/namespaces/mw-other/roles/meridian-workspace-agent`);
    return role === undefined;
  });
  await waitFor("RoleBinding meridian-flink in mw-other to reference the ClusterRole", async () => {
    const b = await h.admin.getOrUndefined<Loose>(`${RBAC}/namespaces/mw-other/rolebindings/meridian-flink`);
    return b?.roleRef?.kind === "ClusterRole";
  });
  const foreign = await h.admin.getOrUndefined<Loose>(`${RBAC}/namespaces/mw-other/roles/meridian-flink`);
  assert.equal(
    foreign?.metadata?.labels?.["app.kubernetes.io/managed-by"],
    "someone",
    "someone else's Role is left alone",
  );
  // And the run settles: a resync after the switch writes nothing more to RBAC objects.
  const status = await waitFor("both workspaces aligned", async () => {
    const s = await h.cp.admin.getAgentStatus(h.agentId);
    const aligned = s?.workspaces.filter((w) =>
      w.conditions.some((c) => c.type === "SpecAligned" && c.status === "True"),
    );
    return aligned?.length === 2 ? s : undefined;
  });
  assert.equal(status.workspaces.length, 2);
  // A deletion after the upgrade drains through the agent's per-namespace binding, without its old
  // cluster-wide ConfigMap read: the binding goes first (a drain ensures it), then the namespace.
  await h.admin.request({
    method: "DELETE",
    path: `${RBAC}/namespaces/mw-other/rolebindings/meridian-agent-drain`,
  });
  await h.cp.admin.deleteWorkspace(h.agentId, "other");
  await waitFor(
    "namespace mw-other deleted after its drain",
    async () => {
      const ns = await h.admin.getOrUndefined<Loose>("/api/v1/namespaces/mw-other");
      return !ns || ns.metadata?.deletionTimestamp;
    },
    30_000,
  );
  assert.ok(
    !h.logs.some((l) => l.includes("mw-other") && l.includes("cannot list resource")),
    "the drain was never refused its ConfigMap list for good",
  );
});
