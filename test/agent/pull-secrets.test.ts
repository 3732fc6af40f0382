// Image pull secrets on the real local cluster (issue 12, deliverables 6 and 9): the Secret the chart
// names in images.workspaceAgent.pullSecrets, in the agent's namespace, is copied into a new workspace
// namespace (Meridian's labels, the source's type and data), named by the workspace agent's pod and
// passed on for the Flink pods; a change of the source reaches the copy. The agent runs with the
// chart's ClusterRole as `helm template` renders it with that value, nothing more.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { one, render } from "../helm/helm.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";
import { loadRules } from "./rbac.ts";

let h: Harness;
let agent: AgentHandle;

// biome-ignore lint/suspicious/noExplicitAny: tests read nested fields freely
type Loose = KubeObject & Record<string, any>;
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const dockerConfig = (auth: string) => ({
  ".dockerconfigjson": b64(JSON.stringify({ auths: { "registry.corp.example": { auth: b64(auth) } } })),
});

before(async () => {
  h = await startHarness();
  // What the chart adds to the agent's ClusterRole for this value, beyond the rules file.
  const manifests = await render(["defaults"], { "images.workspaceAgent.pullSecrets[0]": "regcred" });
  const rules = (
    one(manifests, "ClusterRole", "meridian-agent") as unknown as { rules: { resources: string[] }[] }
  ).rules;
  // Beyond the rules file: bind on the workspace ClusterRoles (installed by the harness) and the pull secrets'.
  const extra = rules
    .slice((await loadRules("agent-clusterrole-rules.yaml")).length)
    .filter((r) => r.resources.includes("secrets"));
  assert.equal(extra.length, 1, "the chart renders one rule for the pull secrets");
  const name = "meridian-agent-pull-secrets";
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  await h.admin.request({
    method: "POST",
    path: `${rbac}/clusterroles`,
    body: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name },
      rules: extra,
    },
  });
  await h.admin.request({
    method: "POST",
    path: `${rbac}/clusterrolebindings`,
    body: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name: h.rbac.serviceAccount, namespace: h.rbac.namespace }],
    },
  });
  await h.admin.request({
    method: "POST",
    path: `/api/v1/namespaces/${h.rbac.namespace}/secrets`,
    body: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "regcred" },
      type: "kubernetes.io/dockerconfigjson",
      data: dockerConfig("robot:first"),
    },
  });
  agent = await h.startAgent({ workspaceAgentPullSecrets: "regcred" });
});
after(() => h?.stop());

const copyPath = "/api/v1/namespaces/mw-pulls/secrets/regcred";

test("the pull secret is copied into a new workspace namespace and named by the workspace agent", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "pulls", { quota: { cpu: "4", memory: "8Gi" } });
  const copy = await waitFor("the copy in mw-pulls", () => h.admin.getOrUndefined<Loose>(copyPath));
  assert.equal(copy.type, "kubernetes.io/dockerconfigjson");
  assert.deepEqual(copy.data, dockerConfig("robot:first"));
  assert.equal(copy.metadata?.labels?.["app.kubernetes.io/managed-by"], "meridian-agent");
  assert.equal(copy.metadata?.labels?.["meridian.dev/workspace"], "pulls");
  assert.equal(copy.metadata?.annotations?.["meridian.dev/copied-from"], `${h.rbac.namespace}/regcred`);
  const d = await waitFor("the workspace agent's Deployment", () =>
    h.admin.getOrUndefined<Loose>("/apis/apps/v1/namespaces/mw-pulls/deployments/meridian-workspace-agent"),
  );
  const pod = d.spec.template.spec;
  assert.deepEqual(pod.imagePullSecrets, [{ name: "regcred" }]);
  const env = pod.containers[0].env as { name: string; value?: string }[];
  assert.equal(env.find((e) => e.name === "MERIDIAN_FLINK_IMAGE_PULL_SECRETS")?.value, "regcred");
});

test("a change of the source reaches the copy", async () => {
  await h.admin.request({
    method: "PATCH",
    path: `/api/v1/namespaces/${h.rbac.namespace}/secrets/regcred`,
    contentType: "application/merge-patch+json",
    body: { data: dockerConfig("robot:rotated") },
  });
  await waitFor(
    "the copy to follow the source",
    async () =>
      JSON.stringify((await h.admin.getOrUndefined<Loose>(copyPath))?.data) ===
      JSON.stringify(dockerConfig("robot:rotated")),
    15_000,
  );
  assert.ok(agent.isLeader());
});
