// The agent against a real API server and the reference control plane, running under its own
// ServiceAccount with exactly the chart's RBAC: create, update, drift repair, zero-write resync,
// policy refusal, malformed events, the workspace agent's RBAC, deletion. One cluster, one agent.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createKubeClient, isWriteVerb } from "@meridian/shared/kube/client";
import { KubeApiError } from "@meridian/shared/kube/errors";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";
import { restrictedPod } from "./restricted-pod.ts";

let h: Harness;
let agent: AgentHandle;
/** Writes to anything but the Lease, as seen by the agent's own client. */
const writes: { verb: string; path: string }[] = [];

const QUOTA = { cpu: "4", memory: "8Gi" };

before(async () => {
  h = await startHarness();
  const policyFile = await h.writePolicy({
    namespacePrefix: "mw-",
    allowedRegistries: { workspaceAgent: ["ghcr.io/meridian-dev"], flink: ["docker.io/library/flink"] },
    quotaCeilings: { cpu: "16", memory: "64Gi" },
    orphanGracePeriodSeconds: 3600,
    storage: { allowedURIs: ["s3://acme-state/flink"] },
    identity: { allowedAWSRoleARNs: ["arn:aws:iam::123456789012:role/meridian-*"] },
  });
  agent = await h.startAgent({ policyFile });
  agent.kube.onRequest((i) => {
    if (isWriteVerb(i.verb) && !i.path.includes("/leases")) writes.push({ verb: i.verb, path: i.path });
  });
});
after(() => h?.stop());

// biome-ignore lint/suspicious/noExplicitAny: tests read nested fields freely
type Loose = KubeObject & Record<string, any>;
const get = (path: string) => h.admin.getOrUndefined<Loose>(path);
const nsPath = (id: string) => `/api/v1/namespaces/mw-${id}`;
const deploymentPath = (id: string) =>
  `/apis/apps/v1/namespaces/mw-${id}/deployments/meridian-workspace-agent`;

async function workspaceStatus(id: string): Promise<WorkspaceStatus | undefined> {
  const s = await h.cp.admin.getAgentStatus(h.agentId);
  return s?.workspaces.find((w) => w.id === id);
}
const cond = (w: WorkspaceStatus | undefined, type: string) => w?.conditions.find((c) => c.type === type);

async function idle(): Promise<void> {
  await waitFor("the agent to lead", () => agent.controller()?.snapshotSeen);
  await agent.controller()?.idle();
}

test("a workspace created through the control plane gets every object, labelled, and reports status", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "alpha", { quota: QUOTA });
  await waitFor("the Deployment", () => get(deploymentPath("alpha")));
  const paths = [
    nsPath("alpha"),
    "/api/v1/namespaces/mw-alpha/serviceaccounts/meridian-workspace-agent",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-alpha/rolebindings/meridian-workspace-agent",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-alpha/rolebindings/meridian-flink",
    "/api/v1/namespaces/mw-alpha/resourcequotas/meridian-workspace-quota",
    "/apis/networking.k8s.io/v1/namespaces/mw-alpha/networkpolicies/meridian-deny-cross-namespace",
    "/api/v1/namespaces/mw-alpha/secrets/meridian-workspace-credential",
  ];
  for (const p of paths) {
    const o = await waitFor(p, () => get(p));
    assert.equal(o?.metadata?.labels?.["app.kubernetes.io/managed-by"], "meridian-agent", p);
    assert.equal(o?.metadata?.labels?.["meridian.dev/workspace"], "alpha", p);
  }
  // The RoleBindings reference the chart's ClusterRoles; no Role per namespace (decision 53).
  const rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-alpha";
  for (const [name, clusterRole] of [
    ["meridian-workspace-agent", h.rbac.clusterRoles.workspaceAgent],
    ["meridian-flink", h.rbac.clusterRoles.flink],
  ] as const)
    assert.deepEqual((await get(`${rbac}/rolebindings/${name}`))?.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: clusterRole,
    });
  const roles = await h.admin.request<{ items: unknown[] }>({ method: "GET", path: `${rbac}/roles` });
  assert.deepEqual(roles.items, [], "no Role in the workspace namespace");
  const secret = await get("/api/v1/namespaces/mw-alpha/secrets/meridian-workspace-credential");
  const token = Buffer.from(secret?.data.token, "base64").toString();
  assert.ok(token.length >= 16);
  h.tokens.add(token);
  const quota = await get("/api/v1/namespaces/mw-alpha/resourcequotas/meridian-workspace-quota");
  assert.equal(quota?.spec.hard["requests.cpu"], "4");
  const w = await waitFor("status of alpha", async () => {
    const s = await workspaceStatus("alpha");
    return cond(s, "SpecAligned")?.status === "True" ? s : undefined;
  });
  assert.equal(w?.observedGeneration, 1);
  assert.equal(cond(w, "PolicyViolation")?.status, "False");
  assert.equal(cond(w, "Ready")?.status, "False", "no node runs the pod in this file");
  const agentStatus = await h.cp.admin.getAgentStatus(h.agentId);
  assert.equal(agentStatus?.agent.kubernetesVersion, "v1.35.4");
  assert.equal(agentStatus?.agent.leader, agent.identity);
  assert.equal(agentStatus?.agent.identity, agent.identity);
  const events = await h.admin.request<{ items: { reason: string }[] }>({
    method: "GET",
    path: "/api/v1/namespaces/mw-alpha/events",
  });
  assert.ok(events.items.some((e) => e.reason === "Created"));
});

test("an update changes only what changed and reports the new generation", async () => {
  await idle();
  writes.length = 0;
  await h.cp.admin.putWorkspace(h.agentId, "alpha", { quota: { cpu: "8", memory: "8Gi" } });
  await waitFor("the new quota", async () => {
    const q = await get("/api/v1/namespaces/mw-alpha/resourcequotas/meridian-workspace-quota");
    return q?.spec.hard["requests.cpu"] === "8";
  });
  await waitFor(
    "generation 2 in status",
    async () => (await workspaceStatus("alpha"))?.observedGeneration === 2,
  );
  await idle();
  const applies = writes.filter((w) => w.verb === "apply").map((w) => w.path);
  // The quota, and the generation recorded on the namespace (what a stale spec is compared with).
  assert.deepEqual(applies.sort(), [
    "/api/v1/namespaces/mw-alpha",
    "/api/v1/namespaces/mw-alpha/resourcequotas/meridian-workspace-quota",
  ]);
  const ns = await get(nsPath("alpha"));
  assert.equal(ns?.metadata?.annotations?.["meridian.dev/generation"], "2");
});

test("drift is repaired within seconds: a deleted Deployment, an edited RoleBinding, a removed label", async () => {
  await idle();
  const dep = await get(deploymentPath("alpha"));
  await h.admin.request({ method: "DELETE", path: deploymentPath("alpha") });
  await waitFor(
    "the Deployment to come back",
    async () => {
      const d = await get(deploymentPath("alpha"));
      return d && d.metadata?.uid !== dep?.metadata?.uid;
    },
    5000,
  );

  // A RoleBinding edited to bind one more subject (someone granting the workspace agent's rights).
  const bindingPath =
    "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-alpha/rolebindings/meridian-workspace-agent";
  const outsider = { kind: "ServiceAccount", name: "default", namespace: "kube-system" };
  const subject = { kind: "ServiceAccount", name: "meridian-workspace-agent", namespace: "mw-alpha" };
  await h.admin.request({
    method: "PATCH",
    path: bindingPath,
    contentType: "application/merge-patch+json",
    body: { subjects: [subject, outsider] },
  });
  await waitFor(
    "the RoleBinding's subjects to be restored",
    async () => {
      const b = await get(bindingPath);
      return b?.subjects.length === 1 && b.roleRef.name === h.rbac.clusterRoles.workspaceAgent;
    },
    5000,
  );

  const npPath =
    "/apis/networking.k8s.io/v1/namespaces/mw-alpha/networkpolicies/meridian-deny-cross-namespace";
  await h.admin.request({
    method: "PATCH",
    path: npPath,
    contentType: "application/merge-patch+json",
    // Not one of the two ownership labels: removing those releases the object (adoption.test.ts).
    body: { metadata: { labels: { "app.kubernetes.io/part-of": null } } },
  });
  await waitFor(
    "the label to be restored",
    async () => {
      const np = await get(npPath);
      return np?.metadata?.labels?.["app.kubernetes.io/part-of"] === "meridian";
    },
    5000,
  );
  await waitFor("Repaired events", async () => {
    const events = await h.admin.request<{ items: { reason: string }[] }>({
      method: "GET",
      path: "/api/v1/namespaces/mw-alpha/events",
    });
    return events.items.filter((e) => e.reason === "Repaired").length >= 2;
  });
});

test("a resync with nothing changed makes zero writes", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "beta", { quota: QUOTA });
  await waitFor("beta's Deployment", () => get(deploymentPath("beta")));
  await idle();
  await new Promise((r) => setTimeout(r, 500)); // let the watch echo of our own writes settle
  await idle();
  writes.length = 0;
  for (let i = 0; i < 3; i++) {
    agent.controller()?.resync();
    await idle();
  }
  assert.deepEqual([...writes], []);
});

test("a workspace that breaks the local policy is not applied and says why", async () => {
  writes.length = 0;
  await h.cp.admin.putWorkspace(h.agentId, "greedy", { quota: { cpu: "64", memory: "8Gi" } });
  await h.cp.admin.putWorkspace(h.agentId, "foreign", {
    quota: QUOTA,
    workspaceAgent: { image: "docker.io/evil/agent:1" },
  });
  const greedy = await waitFor("greedy refused", async () => {
    const s = await workspaceStatus("greedy");
    return s?.phase === "Refused" ? s : undefined;
  });
  assert.equal(cond(greedy, "PolicyViolation")?.status, "True");
  assert.equal(
    cond(greedy, "PolicyViolation")?.message,
    "quota.cpu 64 exceeds the policy ceiling quotaCeilings.cpu=16",
  );
  const foreign = await waitFor("foreign refused", async () => {
    const s = await workspaceStatus("foreign");
    return s?.phase === "Refused" ? s : undefined;
  });
  assert.match(
    cond(foreign, "PolicyViolation")?.message ?? "",
    /workspaceAgent\.image docker\.io\/evil\/agent:1/,
  );
  assert.equal(await get(nsPath("greedy")), undefined);
  assert.equal(await get(nsPath("foreign")), undefined);
  await idle();
  assert.deepEqual([...writes], []);
  const refusals = h.logs.filter((l) => l.includes("refused by the local policy") && l.includes('"greedy"'));
  assert.equal(refusals.length, 1, "logged once");
  // Fixing the spec applies it.
  await h.cp.admin.putWorkspace(h.agentId, "greedy", { quota: { cpu: "16", memory: "8Gi" } });
  await waitFor("greedy applied", () => get(deploymentPath("greedy")));
  // An update of an existing workspace that breaks the policy changes nothing and leaves a Warning.
  await h.cp.admin.putWorkspace(h.agentId, "greedy", { quota: { cpu: "17", memory: "8Gi" } });
  await waitFor("greedy refused again", async () => (await workspaceStatus("greedy"))?.phase === "Refused");
  await waitFor("a PolicyViolation Warning on mw-greedy", async () => {
    const events = await h.admin.request<{
      items: { reason: string; type: string; involvedObject: { name: string } }[];
    }>({
      method: "GET",
      path: "/api/v1/namespaces/default/events",
    });
    return events.items.some(
      (e) => e.reason === "PolicyViolation" && e.type === "Warning" && e.involvedObject.name === "mw-greedy",
    );
  });
  const quota = await get("/api/v1/namespaces/mw-greedy/resourcequotas/meridian-workspace-quota");
  assert.equal(quota?.spec.hard["requests.cpu"], "16", "the previous generation stays");
  await h.cp.admin.deleteWorkspace(h.agentId, "foreign");
});

test("malformed events are rejected, reported, and change nothing", async () => {
  await idle();
  writes.length = 0;
  const before = (await h.cp.admin.getAgentStatus(h.agentId))?.rejectedEvents.count ?? 0;
  await h.cp.admin.faults.injectEvent("agent", h.agentId, "workspace.upsert", "{not json");
  await h.cp.admin.faults.injectEvent(
    "agent",
    h.agentId,
    "workspace.upsert",
    JSON.stringify({ workspace: { id: "alpha", generation: 9, quota: { cpu: "lots", memory: "1Gi" } } }),
  );
  await h.cp.admin.faults.injectEvent(
    "agent",
    h.agentId,
    "workspace.delete",
    JSON.stringify({ name: "alpha" }),
  );
  const status = await waitFor("3 rejections in status", async () => {
    const s = await h.cp.admin.getAgentStatus(h.agentId);
    return (s?.rejectedEvents.count ?? 0) >= before + 3 ? s : undefined;
  });
  assert.match(status?.rejectedEvents.last?.error ?? "", /workspace.delete|id/);
  await idle();
  assert.deepEqual([...writes], []);
  assert.ok(await get(nsPath("alpha")));
  assert.equal((await workspaceStatus("alpha"))?.observedGeneration, 2);
});

test("the workspace agent's ServiceAccount can run pods at home and is refused next door", async () => {
  const kubeconfig = await h.cluster.serviceAccountKubeconfig("mw-alpha", "meridian-workspace-agent");
  const ws = await createKubeClient({ kubeconfig });
  try {
    // Labelled as the workspace agent's own: the confinement policy refuses it any other pod; and
    // `restricted`, which the workspace namespace enforces.
    const pod = restrictedPod(
      "probe",
      { "app.kubernetes.io/managed-by": "meridian-workspace-agent" },
      {
        image: "busybox",
        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "10m", memory: "16Mi" } },
      },
    );
    await ws.request({ method: "POST", path: "/api/v1/namespaces/mw-alpha/pods", body: pod });
    await ws.request({
      method: "GET",
      path: "/api/v1/namespaces/mw-alpha/secrets/meridian-workspace-credential",
    });
    const refused = async (path: string) => {
      const err = await ws.request({ method: "GET", path }).catch((e) => e);
      assert.ok(err instanceof KubeApiError && err.status === 403, `${path}: ${err}`);
    };
    await refused("/api/v1/namespaces/mw-beta/pods");
    await refused("/api/v1/namespaces/mw-beta/secrets/meridian-workspace-credential");
    await refused("/api/v1/namespaces/mw-alpha/secrets");
    await refused("/api/v1/pods");
    await ws.request({ method: "DELETE", path: "/api/v1/namespaces/mw-alpha/pods/probe" });
  } finally {
    await ws.close();
  }
});

test("health, readiness and metrics are served", async () => {
  assert.equal((await fetch(`${agent.healthUrl}/healthz`)).status, 200);
  assert.equal((await fetch(`${agent.healthUrl}/readyz`)).status, 200);
  const metrics = await (await fetch(`${agent.healthUrl}/metrics`)).text();
  for (const name of [
    "meridian_agent_reconcile_duration_seconds_bucket",
    "meridian_agent_kube_requests_total",
    "meridian_agent_stream_events_total",
    "meridian_agent_workspaces",
    "meridian_agent_leader 1",
    "meridian_agent_stream_connected 1",
  ])
    assert.ok(metrics.includes(name), `missing ${name}`);
});

test("workspace.delete deletes the namespace and reports Deleted only once it is gone, then drops it", async () => {
  await h.cp.admin.deleteWorkspace(h.agentId, "beta");
  const seen = new Set<string>();
  await waitFor(
    "beta to be Deleted and then dropped",
    async () => {
      const s = await workspaceStatus("beta");
      if (s) seen.add(s.phase);
      if (s?.phase === "Deleted")
        assert.equal(await get(nsPath("beta")), undefined, "Deleted only when gone");
      return seen.has("Deleted") && !s;
    },
    30_000,
  );
  assert.equal(await get(nsPath("beta")), undefined);
  assert.ok(await get(nsPath("alpha")));
});

test("storage and identity: the Flink ServiceAccount carries the role; a location or role outside the policy is refused naming the field", async () => {
  const role = "arn:aws:iam::123456789012:role/meridian-gamma";
  await h.cp.admin.putWorkspace(h.agentId, "gamma", {
    quota: QUOTA,
    storage: { baseURI: "s3://acme-state/flink/gamma" },
    identity: { awsRoleArn: role },
  });
  const sa = await waitFor("the Flink ServiceAccount", () =>
    get("/api/v1/namespaces/mw-gamma/serviceaccounts/meridian-flink"),
  );
  assert.equal(sa?.metadata?.annotations?.["eks.amazonaws.com/role-arn"], role);
  assert.equal(sa?.automountServiceAccountToken, false);
  const deployment = await waitFor("gamma's Deployment", () => get(deploymentPath("gamma")));
  const env = deployment?.spec.template.spec.containers[0].env as { name: string; value?: string }[];
  assert.equal(env.find((e) => e.name === "MERIDIAN_STORAGE_BASE_URI")?.value, "s3://acme-state/flink/gamma");
  assert.equal(env.find((e) => e.name === "MERIDIAN_FLINK_SERVICE_ACCOUNT")?.value, "meridian-flink");
  const bindings = await h.admin.request<{ items: Loose[] }>({
    method: "GET",
    path: "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-gamma/rolebindings",
  });
  // The Flink ServiceAccount's only permission: the chart's HA ClusterRole (ConfigMaps), in its namespace.
  const flinkBindings = bindings.items.filter((b) => JSON.stringify(b.subjects).includes("meridian-flink"));
  assert.deepEqual(
    flinkBindings.map((b) => [b.metadata?.name, b.roleRef.kind, b.roleRef.name]),
    [["meridian-flink", "ClusterRole", h.rbac.clusterRoles.flink]],
    "only the HA ClusterRole is bound to the Flink ServiceAccount",
  );

  await h.cp.admin.putWorkspace(h.agentId, "leaky", {
    quota: QUOTA,
    storage: { baseURI: "s3://other-bucket/flink" },
  });
  await h.cp.admin.putWorkspace(h.agentId, "admin", {
    quota: QUOTA,
    identity: { awsRoleArn: "arn:aws:iam::123456789012:role/admin" },
  });
  for (const [id, field] of [
    ["leaky", /^storage\.baseURI on s3:\/\/other-bucket\/flink is refused/],
    ["admin", /^identity\.awsRoleArn arn:aws:iam::123456789012:role\/admin is not allowed/],
  ] as const) {
    const s = await waitFor(`${id} refused`, async () => {
      const w = await workspaceStatus(id);
      return w?.phase === "Refused" ? w : undefined;
    });
    assert.equal(cond(s, "PolicyViolation")?.status, "True", id);
    assert.match(cond(s, "PolicyViolation")?.message ?? "", field);
    assert.equal(await get(nsPath(id)), undefined, `nothing created for ${id}`);
  }
});
