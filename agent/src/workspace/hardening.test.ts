// The hardening of a workspace namespace as built: Pod Security labels from the policy, the LimitRange,
// the NetworkPolicies' egress from the configuration, and the agent's RBAC covering every object.
// What the NetworkPolicies allow and refuse is judged in test/agent/network-policies.test.ts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { parse } from "yaml";
import { buildContext } from "./build-context.testutil.ts";
import type { BuildContext } from "./build-context.ts";
import { DEFAULT_EGRESS_SETTING, resolveEgress, workspaceEgressSetting } from "./egress.ts";
import { desiredObjects, OWNED_NAMESPACED, type PolicyRule } from "./objects.ts";

const spec = workspaceSpec.parse({ id: "team-a", generation: 1, quota: { cpu: "4", memory: "8Gi" } });
const ctx = buildContext({ controlPlaneUrl: "https://cp.example.com:8443" });
// biome-ignore lint/suspicious/noExplicitAny: tests navigate built objects freely
type Obj = Record<string, any>;
const object = (c: BuildContext, kind: string, name?: string) =>
  desiredObjects(spec, c).find((o) => o.type.kind === kind && (!name || o.object.metadata?.name === name))
    ?.object as Obj;

test("by default the namespace enforces restricted at the latest version, and warns and audits at it", () => {
  assert.deepEqual(
    Object.entries(object(ctx, "Namespace").metadata.labels).filter(([k]) => k.startsWith("pod-security")),
    [
      ["pod-security.kubernetes.io/enforce", "restricted"],
      ["pod-security.kubernetes.io/enforce-version", "latest"],
      ["pod-security.kubernetes.io/warn", "restricted"],
      ["pod-security.kubernetes.io/warn-version", "latest"],
      ["pod-security.kubernetes.io/audit", "restricted"],
      ["pod-security.kubernetes.io/audit-version", "latest"],
    ],
  );
  assert.equal(
    object(ctx, "Namespace").metadata.annotations?.["meridian.dev/pod-security-reason"],
    undefined,
  );
});

test("a policy that relaxes enforcement keeps warn and audit at restricted and its reason on the namespace", () => {
  const hardening = {
    podSecurity: { enforce: "baseline" as const, version: "v1.35", reason: "a vendor sidecar needs NET_RAW" },
    egress: DEFAULT_EGRESS_SETTING,
    allowedEgress: [],
  };
  const ns = object({ ...ctx, hardening }, "Namespace");
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce-version"], "v1.35");
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/warn"], "restricted");
  assert.equal(ns.metadata.annotations["meridian.dev/pod-security-reason"], "a vendor sidecar needs NET_RAW");
  assert.equal(ns.metadata.labels["app.kubernetes.io/managed-by"], "meridian-agent");
});

test("the LimitRange gives a container without requests or limits small defaults", () => {
  assert.deepEqual(object(ctx, "LimitRange").spec, {
    limits: [
      {
        type: "Container",
        defaultRequest: { cpu: "100m", memory: "128Mi" },
        default: { cpu: "500m", memory: "512Mi" },
      },
    ],
  });
});

test("the workspace agent may reach the control plane on its URL's port, or the proxy's, when no ports are set", () => {
  assert.deepEqual(resolveEgress(DEFAULT_EGRESS_SETTING, ctx).controlPlane, { cidrs: [], ports: [8443] });
  assert.deepEqual(
    resolveEgress(DEFAULT_EGRESS_SETTING, { ...ctx, httpsProxy: "http://proxy.corp:3128" }).controlPlane
      .ports,
    [3128],
  );
  assert.deepEqual(
    resolveEgress(DEFAULT_EGRESS_SETTING, { controlPlaneUrl: "https://cp.example.com" }).apiServer,
    {
      cidrs: [],
      ports: [443, 6443],
    },
  );
  const set = workspaceEgressSetting.parse(
    JSON.stringify({ apiServer: { cidrs: ["10.0.0.1/32"], ports: [443] }, controlPlane: { ports: [443] } }),
  );
  const egress = resolveEgress(set, ctx);
  assert.deepEqual(egress.apiServer, { cidrs: ["10.0.0.1/32"], ports: [443] });
  assert.deepEqual(egress.controlPlane, { cidrs: [], ports: [443] });
  assert.deepEqual(egress.dns, { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } });
});

test("a bad egress setting is refused with the field named", () => {
  const problem = (raw: string) => {
    const r = workspaceEgressSetting.safeParse(raw);
    return r.success ? "" : (r.error.issues[0]?.message ?? "");
  };
  assert.match(problem("{"), /^is not JSON/);
  assert.match(problem('{"apiServer": {"cidrs": ["10.0.0.1"]}}'), /^apiServer\.cidrs\.0: must be a CIDR/);
  assert.match(problem('{"controlPlane": {"ports": []}}'), /^controlPlane\.ports: /);
  assert.match(problem('{"proxy": {}}'), /^\(root\): /);
});

test("the agent's ClusterRole lets it apply every fixed-name object it owns, by name", () => {
  const file = new URL("../../../helm/meridian-agent/files/agent-clusterrole-rules.yaml", import.meta.url);
  const rules = parse(readFileSync(file, "utf8")) as PolicyRule[];
  for (const { type, name } of OWNED_NAMESPACED) {
    const group = type.apiVersion.includes("/") ? type.apiVersion.split("/")[0] : "";
    const rule = rules.find(
      (r) =>
        r.apiGroups.includes(group ?? "") &&
        r.resources.includes(type.plural) &&
        (!r.resourceNames || r.resourceNames.includes(name)),
    );
    assert.ok(rule, `no rule names ${type.plural}/${name}: add it to agent-clusterrole-rules.yaml`);
    // The Roles are the previous version's, watched only to be deleted (decision 53).
    const verbs =
      type.plural === "roles"
        ? ["get", "list", "watch", "delete"]
        : ["get", "list", "watch", "create", "patch"];
    for (const verb of verbs) assert.ok(rule.verbs.includes(verb), `${verb} ${name}`);
  }
});
