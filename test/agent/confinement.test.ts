// The API server confines the agent and the workspace agents (the chart's ValidatingAdmissionPolicies,
// installed by the harness for every agent test): with their own credentials, every write their RBAC
// allows outside their workspaces is refused by the policy, named in the refusal, while the agent's
// ordinary work goes through. The refusals are real writes, not dry runs; nothing they asked for exists after.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createKubeClient, type HttpMethod, type KubeClient } from "@meridian/shared/kube/client";
import { parseAllDocuments } from "yaml";
import { CHART_DIR, helm, RELEASE, valueArgs } from "../helm/helm.ts";
import { APPLY, tryWrite, type WriteAnswer } from "./confinement.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";
import { restrictedPod } from "./restricted-pod.ts";

let h: Harness;
/** Clients with the agent's credential and with workspace alpha's workspace agent's. */
let asAgent: KubeClient;
let asAlpha: KubeClient;

const MANAGED_BY = "app.kubernetes.io/managed-by";
const ours = { [MANAGED_BY]: "meridian-agent", "app.kubernetes.io/part-of": "meridian" };
const flink = { [MANAGED_BY]: "meridian-workspace-agent", "app.kubernetes.io/part-of": "meridian" };

before(async () => {
  h = await startHarness();
  await h.startAgent();
  for (const id of ["alpha", "beta"])
    await h.cp.admin.putWorkspace(h.agentId, id, { quota: { cpu: "4", memory: "8Gi" } });
  for (const id of ["alpha", "beta"])
    await waitFor(`workspace ${id}`, () =>
      h.admin.getOrUndefined(`/apis/apps/v1/namespaces/mw-${id}/deployments/meridian-workspace-agent`),
    );
  // Someone else's objects: a namespace with no label (one with the workspace prefix, even), and
  // objects of the agent's own names in default and kube-system.
  for (const name of ["customer-apps", "mw-not-meridians"])
    await h.admin.request({ method: "POST", path: "/api/v1/namespaces", body: { metadata: { name } } });
  for (const ns of ["default", "kube-system", "customer-apps", "mw-alpha"])
    await h.admin.request({
      method: "POST",
      path: `/api/v1/namespaces/${ns}/configmaps`,
      body: { metadata: { name: "someone-elses" }, data: { k: "v" } },
    });
  // And one of the agent's in alpha (as the control plane CA ConfigMap would be).
  await h.admin.request({
    method: "POST",
    path: "/api/v1/namespaces/mw-alpha/configmaps",
    body: { metadata: { name: "meridian-control-plane-ca", labels: ours }, data: { "ca.crt": "x" } },
  });
  asAgent = await createKubeClient({ kubeconfig: h.rbac.kubeconfig });
  asAlpha = await createKubeClient({
    kubeconfig: await h.cluster.serviceAccountKubeconfig("mw-alpha", "meridian-workspace-agent"),
  });
});
after(async () => {
  await asAgent?.close();
  await asAlpha?.close();
  await h?.stop();
});

function assertRefusedBy(policy: string, res: WriteAnswer, what: string): void {
  assert.equal(res.status, 403, `${what}: expected a refusal, got ${res.status} ${res.message}`);
  assert.match(
    res.message,
    new RegExp(`ValidatingAdmissionPolicy '${policy}' with binding '${policy}' denied`),
    what,
  );
}

function assertRefusedByRbac(res: WriteAnswer, what: string): void {
  assert.equal(res.status, 403, `${what}: expected a refusal, got ${res.status} ${res.message}`);
  assert.match(res.message, /is forbidden: User "system:serviceaccount:[^"]+" cannot /, what);
  assert.doesNotMatch(res.message, /ValidatingAdmissionPolicy/, `${what}: RBAC refuses before admission`);
}

/**
 * Writes into any namespace: the first four the agent's RBAC no longer allows at all (it holds no right
 * to ConfigMaps but its own names, nor to pods: decision 53), the last two it allows by name anywhere,
 * which the policy must refuse outside workspaces.
 */
const RBAC_REFUSED = [
  "create a ConfigMap",
  "create a pod",
  "patch someone else's ConfigMap",
  "delete someone else's ConfigMap",
];
function agentWrites(ns: string): [string, HttpMethod, string, unknown, string?][] {
  const meta = (name: string) => ({ name, namespace: ns, labels: ours });
  const container = { name: "c", image: "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0" };
  const podSpec = { containers: [container] };
  return [
    ["create a ConfigMap", "POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: meta("x") }],
    ["create a pod", "POST", `/api/v1/namespaces/${ns}/pods`, { metadata: meta("x"), spec: podSpec }],
    [
      "apply the workspace agent Deployment",
      "PATCH",
      `/apis/apps/v1/namespaces/${ns}/deployments/meridian-workspace-agent`,
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: meta("meridian-workspace-agent"),
        spec: {
          selector: { matchLabels: { app: "x" } },
          template: { metadata: { labels: { app: "x" } }, spec: podSpec },
        },
      },
      APPLY,
    ],
    [
      "apply the credential Secret",
      "PATCH",
      `/api/v1/namespaces/${ns}/secrets/meridian-workspace-credential`,
      { apiVersion: "v1", kind: "Secret", metadata: meta("meridian-workspace-credential"), data: {} },
      APPLY,
    ],
    [
      "patch someone else's ConfigMap",
      "PATCH",
      `/api/v1/namespaces/${ns}/configmaps/someone-elses`,
      { metadata: { labels: ours }, data: { k: "taken" } },
      "application/merge-patch+json",
    ],
    [
      "delete someone else's ConfigMap",
      "DELETE",
      `/api/v1/namespaces/${ns}/configmaps/someone-elses`,
      undefined,
    ],
  ];
}

describe("the agent's credential", () => {
  for (const ns of ["default", "kube-system", "customer-apps", "mw-not-meridians"])
    test(`every write into ${ns} is refused by the confinement policy`, async () => {
      for (const [what, method, path, body, contentType] of agentWrites(ns)) {
        if (ns === "mw-not-meridians" && path.includes("someone-elses")) continue;
        const res = await tryWrite(asAgent, method, path, body, { contentType });
        if (RBAC_REFUSED.includes(what)) assertRefusedByRbac(res, `${what} in ${ns}`);
        else assertRefusedBy(h.confinement.agentPolicy, res, `${what} in ${ns}`);
      }
      const cm = await h.admin.getOrUndefined<{ data?: Record<string, string> }>(
        `/api/v1/namespaces/${ns}/configmaps/someone-elses`,
      );
      if (ns !== "mw-not-meridians") assert.equal(cm?.data?.k, "v", "the ConfigMap is untouched");
    });

  test("reads no pod, pod log, Service or ConfigMap outside its own names: RBAC refuses (decision 53)", async () => {
    for (const ns of ["default", "kube-system"]) {
      const base = `/api/v1/namespaces/${ns}`;
      for (const [what, path] of [
        ["list pods", `${base}/pods`],
        ["get a pod", `${base}/pods/x`],
        ["read a pod's log", `${base}/pods/x/log`],
        ["list Services", `${base}/services`],
        ["get a Service", `${base}/services/kubernetes`],
        ["get a ConfigMap", `${base}/configmaps/someone-elses`],
      ] as const)
        assertRefusedByRbac(await tryWrite(asAgent, "GET", path), `${what} in ${ns}`);
      assertRefusedByRbac(await tryWrite(asAgent, "GET", `${base}/configmaps`), `list ConfigMaps in ${ns}`);
    }
    // In a workspace namespace it lists ConfigMaps (the deletion drain, decision 33) through the
    // RoleBinding meridian-agent-drain it made there for itself.
    const drain = await tryWrite(asAgent, "GET", "/api/v1/namespaces/mw-alpha/configmaps");
    assert.equal(drain.status, 200, drain.message);
    // In its workspaces too: the workspace agent's rules are bound to the workspace agent, not to it.
    assertRefusedByRbac(
      await tryWrite(asAgent, "GET", "/api/v1/namespaces/mw-alpha/pods"),
      "pods in a workspace",
    );
  });

  test("binding a workspace ClusterRole outside a workspace is refused by the confinement policy", async () => {
    for (const [ns, name, role] of [
      ["default", "meridian-workspace-agent", h.rbac.clusterRoles.workspaceAgent],
      ["kube-system", "meridian-flink", h.rbac.clusterRoles.flink],
      ["customer-apps", "meridian-workspace-agent", h.rbac.clusterRoles.workspaceAgent],
    ] as const) {
      const res = await tryWrite(
        asAgent,
        "PATCH",
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/${name}`,
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name, namespace: ns, labels: ours },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
          subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
        },
        { contentType: APPLY },
      );
      assertRefusedBy(h.confinement.agentPolicy, res, `binding ${role} in ${ns}`);
      const there = await h.admin.getOrUndefined(
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/${name}`,
      );
      assert.equal(there, undefined, `no RoleBinding ${name} in ${ns}`);
    }
    // RBAC: bind on exactly the two ClusterRoles, no other (cluster-admin here): the escalation check
    // refuses before the policy is asked.
    const admin = await tryWrite(
      asAgent,
      "PATCH",
      "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/meridian-workspace-agent",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "meridian-workspace-agent", namespace: "default", labels: ours },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ kind: "ServiceAccount", name: "meridian-workspace-agent", namespace: "default" }],
      },
      { contentType: APPLY, dryRun: true },
    );
    assert.equal(admin.status, 403, admin.message);
    assert.match(admin.message, /attempting to grant RBAC permissions not currently held/);
    assert.doesNotMatch(admin.message, /ValidatingAdmissionPolicy/);
  });

  test("namespaces it did not create can be neither relabelled nor deleted; a new one must be its own", async () => {
    for (const ns of ["default", "kube-system", "customer-apps", "mw-not-meridians"]) {
      const relabel = await tryWrite(
        asAgent,
        "PATCH",
        `/api/v1/namespaces/${ns}`,
        { metadata: { labels: ours } },
        {
          contentType: "application/merge-patch+json",
        },
      );
      assertRefusedBy(h.confinement.agentPolicy, relabel, `relabelling ${ns}`);
      // default and kube-system cannot be deleted by anyone (NamespaceLifecycle answers before the policy).
      if (ns === "default" || ns === "kube-system") continue;
      const del = await tryWrite(asAgent, "DELETE", `/api/v1/namespaces/${ns}`);
      assertRefusedBy(h.confinement.agentPolicy, del, `deleting ${ns}`);
      const still = await h.admin.getOrUndefined<{ metadata: { deletionTimestamp?: string } }>(
        `/api/v1/namespaces/${ns}`,
      );
      assert.equal(still?.metadata.deletionTimestamp, undefined, `${ns} is not being deleted`);
    }
    const unlabelled = await tryWrite(asAgent, "POST", "/api/v1/namespaces", {
      metadata: { name: "mw-gamma" },
    });
    assertRefusedBy(h.confinement.agentPolicy, unlabelled, "creating a namespace without the label");
    const unprefixed = await tryWrite(asAgent, "POST", "/api/v1/namespaces", {
      metadata: { name: "evil", labels: ours },
    });
    assertRefusedBy(h.confinement.agentPolicy, unprefixed, "creating a namespace outside the prefix");
    // Its own namespaces enforce the Pod Security level of the chart's policy: no privileged workspace.
    const psa = (level: string) => ({
      "pod-security.kubernetes.io/enforce": level,
      "pod-security.kubernetes.io/enforce-version": "latest",
    });
    const privileged = await tryWrite(asAgent, "POST", "/api/v1/namespaces", {
      metadata: { name: "mw-open", labels: { ...ours, ...psa("privileged") } },
    });
    assertRefusedBy(h.confinement.agentPolicy, privileged, "creating a privileged workspace namespace");
    const relax = await tryWrite(
      asAgent,
      "PATCH",
      "/api/v1/namespaces/mw-alpha",
      { metadata: { labels: psa("privileged") } },
      { contentType: "application/merge-patch+json", dryRun: true },
    );
    assertRefusedBy(h.confinement.agentPolicy, relax, "relaxing a workspace namespace's Pod Security level");
    const own = await tryWrite(
      asAgent,
      "POST",
      "/api/v1/namespaces",
      { metadata: { name: "mw-gamma", labels: { ...ours, ...psa("restricted") } } },
      { dryRun: true },
    );
    assert.equal(own.status, 201, own.message);
    const unmark = await tryWrite(
      asAgent,
      "PATCH",
      "/api/v1/namespaces/mw-alpha",
      { metadata: { labels: { [MANAGED_BY]: "someone" } } },
      { contentType: "application/merge-patch+json", dryRun: true },
    );
    assertRefusedBy(h.confinement.agentPolicy, unmark, "removing its own label from a workspace namespace");
    const labels = (
      await h.admin.getOrUndefined<{ metadata: { labels: Record<string, string> } }>(
        "/api/v1/namespaces/customer-apps",
      )
    )?.metadata.labels;
    assert.equal(labels?.[MANAGED_BY], undefined);
  });

  test("in its own namespace only its Lease; in default only Events about its workspace namespaces", async () => {
    const home = h.rbac.namespace;
    const lease = (name: string) => ({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name },
      spec: { holderIdentity: "x" },
    });
    const other = await tryWrite(
      asAgent,
      "POST",
      `/apis/coordination.k8s.io/v1/namespaces/${home}/leases`,
      lease("other"),
    );
    assertRefusedBy(h.confinement.agentPolicy, other, "another Lease at home");
    for (const [what, method, path, body, contentType] of agentWrites(home)) {
      if (RBAC_REFUSED.includes(what)) continue;
      const res = await tryWrite(asAgent, method, path, body, { contentType });
      assertRefusedBy(h.confinement.agentPolicy, res, `${what} at home`);
    }
    const event = (kind: string, name: string) => ({
      metadata: { generateName: "x.", namespace: "default" },
      involvedObject: { apiVersion: "v1", kind, name },
      reason: "Test",
      message: "test",
      type: "Normal",
    });
    const aboutWorkspace = await tryWrite(
      asAgent,
      "POST",
      "/api/v1/namespaces/default/events",
      event("Namespace", "mw-alpha"),
      {
        dryRun: true,
      },
    );
    assert.equal(aboutWorkspace.status, 201, aboutWorkspace.message);
    for (const [kind, name] of [
      ["Namespace", "kube-system"],
      ["Node", "mw-alpha"],
    ] as const) {
      const res = await tryWrite(asAgent, "POST", "/api/v1/namespaces/default/events", event(kind, name));
      assertRefusedBy(h.confinement.agentPolicy, res, `an Event about ${kind} ${name}`);
    }
  });

  test("at home it keeps its control-plane credential in its one Secret, by name (the chart's Role and the policy)", async () => {
    const home = h.rbac.namespace;
    const sa = h.rbac.serviceAccount;
    // The chart's credential Role and binding for this identity, as `helm template` renders them.
    const set = { fullnameOverride: sa };
    const shows = ["templates/role.yaml", "templates/rolebinding.yaml"].flatMap((t) => ["--show-only", t]);
    const res = await helm([
      "template",
      RELEASE,
      CHART_DIR,
      "--namespace",
      home,
      ...valueArgs(["defaults"], set),
      ...shows,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const rendered = parseAllDocuments(res.stdout)
      .map((d) => d.toJS() as { kind: string; metadata: { name: string } } | null)
      .filter((m) => m?.metadata.name === `${sa}-credential`);
    assert.deepEqual(rendered.map((m) => m?.kind).sort(), ["Role", "RoleBinding"]);
    for (const obj of rendered) {
      const plural = obj?.kind === "Role" ? "roles" : "rolebindings";
      const created = await h.cluster.request(
        "POST",
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${home}/${plural}`,
        obj,
      );
      assert.ok(created.status < 400 || created.status === 409, created.body);
    }
    const secret = (name: string) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: home, labels: ours },
      data: {},
    });
    const path = (name: string) => `/api/v1/namespaces/${home}/secrets/${name}`;
    let mine: WriteAnswer = { status: 0, message: "" };
    // RBAC of a new binding takes a moment to reach the authorizer's cache.
    for (let i = 0; i < 50 && mine.status !== 200 && mine.status !== 201; i++) {
      mine = await tryWrite(asAgent, "PATCH", path(`${sa}-credential`), secret(`${sa}-credential`), {
        contentType: APPLY,
      });
      if (mine.status === 403 && !/ValidatingAdmissionPolicy/.test(mine.message))
        await new Promise((r) => setTimeout(r, 100));
      else break;
    }
    assert.ok(
      mine.status === 200 || mine.status === 201,
      `its credential Secret: ${mine.status} ${mine.message}`,
    );
    const other = await tryWrite(asAgent, "PATCH", path("another-secret"), secret("another-secret"), {
      contentType: APPLY,
    });
    assert.equal(other.status, 403, "another Secret at home");
    const gone = await tryWrite(asAgent, "DELETE", path(`${sa}-credential`));
    assert.equal(gone.status, 403, "deleting its credential Secret");
  });

  test("in a workspace namespace only objects labelled as its own, and no RoleBinding to anyone else", async () => {
    // A ConfigMap of the agent's own name that someone else put there: RBAC allows it, the policy refuses.
    await h.admin.request({
      method: "POST",
      path: "/api/v1/namespaces/mw-beta/configmaps",
      body: { metadata: { name: "meridian-control-plane-ca" }, data: { "ca.crt": "someone's" } },
    });
    const taken = await tryWrite(
      asAgent,
      "PATCH",
      "/api/v1/namespaces/mw-beta/configmaps/meridian-control-plane-ca",
      { metadata: { labels: ours }, data: { "ca.crt": "taken" } },
      { contentType: "application/merge-patch+json" },
    );
    assertRefusedBy(h.confinement.agentPolicy, taken, "taking over someone else's ConfigMap in a workspace");
    const unlabelled = await tryWrite(
      asAgent,
      "PATCH",
      "/api/v1/namespaces/mw-alpha/configmaps/meridian-control-plane-ca",
      { metadata: { labels: { [MANAGED_BY]: null } } },
      { contentType: "application/merge-patch+json", dryRun: true },
    );
    assertRefusedBy(h.confinement.agentPolicy, unlabelled, "unlabelling its own ConfigMap");
    const binding = await tryWrite(
      asAgent,
      "PATCH",
      "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-alpha/rolebindings/meridian-workspace-agent",
      { subjects: [{ kind: "ServiceAccount", name: "default", namespace: "kube-system" }] },
      { contentType: "application/merge-patch+json", dryRun: true },
    );
    assertRefusedBy(h.confinement.agentPolicy, binding, "binding the workspace ClusterRole to an outsider");
    const drainToOther = await tryWrite(
      asAgent,
      "PATCH",
      "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-alpha/rolebindings/meridian-agent-drain",
      { subjects: [{ kind: "ServiceAccount", name: "meridian-workspace-agent", namespace: "mw-alpha" }] },
      { contentType: "application/merge-patch+json", dryRun: true },
    );
    assertRefusedBy(
      h.confinement.agentPolicy,
      drainToOther,
      "binding the drain's ClusterRole to anyone but the agent",
    );
    const own = await tryWrite(
      asAgent,
      "PATCH",
      "/api/v1/namespaces/mw-alpha/configmaps/meridian-control-plane-ca",
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "meridian-control-plane-ca", labels: ours } },
      { contentType: APPLY, dryRun: true },
    );
    assert.equal(own.status, 200, own.message);
  });
});

describe("a workspace agent's credential", () => {
  test("is refused in another workspace even where RBAC would allow it", async () => {
    // A misgrant: alpha's workspace agent bound to the workspace ClusterRole in beta. RBAC now allows the write.
    await h.admin.request({
      method: "POST",
      path: "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-beta/rolebindings",
      body: {
        metadata: { name: "misgrant" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: h.rbac.clusterRoles.workspaceAgent,
        },
        subjects: [{ kind: "ServiceAccount", name: "meridian-workspace-agent", namespace: "mw-alpha" }],
      },
    });
    // Pod Security `restricted` holds in every workspace namespace: the pod satisfies it.
    const pod = restrictedPod("jm", flink, { image: "flink:2.1" });
    await waitFor("the misgrant to take effect", async () => {
      const res = await tryWrite(asAlpha, "POST", "/api/v1/namespaces/mw-beta/pods", pod, { dryRun: true });
      return res.message.includes("ValidatingAdmissionPolicy") ? res : undefined;
    });
    const res = await tryWrite(asAlpha, "POST", "/api/v1/namespaces/mw-beta/pods", pod);
    assertRefusedBy(h.confinement.workspacePolicy, res, "a Flink pod in another workspace");
    assert.match(res.message, /writes only in its own namespace mw-alpha/);
  });

  test("at home writes only its own Flink objects: not the agent's, not unlabelled ones", async () => {
    const ns = "/api/v1/namespaces/mw-alpha";
    const cases: [string, HttpMethod, string, unknown, string?][] = [
      [
        "the agent's CA ConfigMap",
        "PATCH",
        `${ns}/configmaps/meridian-control-plane-ca`,
        { data: { "ca.crt": "changed" } },
        "application/merge-patch+json",
      ],
      [
        "someone else's ConfigMap, relabelled",
        "PATCH",
        `${ns}/configmaps/someone-elses`,
        { metadata: { labels: flink } },
        "application/merge-patch+json",
      ],
      ["an unlabelled ConfigMap", "POST", `${ns}/configmaps`, { metadata: { name: "x" } }],
      [
        "a ConfigMap labelled as the agent's",
        "POST",
        `${ns}/configmaps`,
        { metadata: { name: "x", labels: ours } },
      ],
      ["someone else's ConfigMap", "DELETE", `${ns}/configmaps/someone-elses`, undefined],
      [
        "an unlabelled Service",
        "POST",
        `${ns}/services`,
        { metadata: { name: "x" }, spec: { ports: [{ port: 80 }] } },
      ],
    ];
    for (const [what, method, path, body, contentType] of cases) {
      const res = await tryWrite(asAlpha, method, path, body, { contentType });
      assertRefusedBy(h.confinement.workspacePolicy, res, what);
    }
    const own = await tryWrite(
      asAlpha,
      "POST",
      `${ns}/configmaps`,
      { metadata: { name: "d-flink-config", labels: flink } },
      { dryRun: true },
    );
    assert.equal(own.status, 201, own.message);
  });
});

test("the normal flow goes through confined: the workspaces' objects exist and their status is aligned", async () => {
  const status = await waitFor("status of both workspaces", async () => {
    const s = await h.cp.admin.getAgentStatus(h.agentId);
    const aligned = s?.workspaces.filter((w) =>
      w.conditions.some((c) => c.type === "SpecAligned" && c.status === "True"),
    );
    return aligned?.length === 2 ? s : undefined;
  });
  assert.equal(status?.workspaces.length, 2);
  await h.cp.admin.deleteWorkspace(h.agentId, "beta");
  await waitFor("namespace mw-beta gone or going", async () => {
    const ns = await h.admin.getOrUndefined<{ metadata: { deletionTimestamp?: string } }>(
      "/api/v1/namespaces/mw-beta",
    );
    return !ns || ns.metadata.deletionTimestamp;
  });
});
