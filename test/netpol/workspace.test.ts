// What a workspace namespace's NetworkPolicies allow, as the agent renders them, for the pods the agents
// really build (the workspace agent's Deployment template, the workspace agent's JobManager and
// TaskManager pods), judged by the NetworkPolicy evaluator (a stand-in for an enforcing CNI; see
// docs/security.md, "Namespace hardening"). Two workspaces, the cluster DNS, a customer's pod, the API
// server, the control plane, a declared object store and an undeclared address.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deploymentSpecInput } from "@meridian/shared/protocol/deployment-spec.testutil";
import { deploymentSpec, workspaceSpec } from "@meridian/shared/protocol/index";
import {
  buildJobManagerPod,
  buildTaskManagerPod,
  PORT_BLOB,
  PORT_REST,
  PORT_RPC,
  PORT_TM_RPC,
} from "@meridian/workspace-agent/flink/objects";
import { buildContext } from "../../agent/src/workspace/build-context.testutil.ts";
import { DEFAULT_EGRESS_SETTING } from "../../agent/src/workspace/egress.ts";
import { FLINK_REST_PORT } from "../../agent/src/workspace/network-policies.ts";
import { desiredObjects } from "../../agent/src/workspace/objects.ts";
import { allowed, type NetworkPolicy, type Pod, type World } from "./evaluator.ts";

const API = { ip: "10.0.0.1" };
const CONTROL_PLANE = { ip: "203.0.113.10" };
const OBJECT_STORE = { ip: "52.217.4.20" };
const ELSEWHERE = { ip: "198.51.100.99" };

const ctx = buildContext({
  hardening: {
    podSecurity: { enforce: "restricted", version: "latest" },
    egress: {
      ...DEFAULT_EGRESS_SETTING,
      apiServer: { cidrs: ["10.0.0.1/32"], ports: [443] },
      controlPlane: { cidrs: ["203.0.113.10/32"], ports: [443] },
    },
    allowedEgress: [{ cidr: "52.216.0.0/15", except: [], ports: [443] }],
  },
});

let nextIp = 1;
// biome-ignore lint/suspicious/noExplicitAny: built objects are read loosely
const asPod = (name: string, namespace: string, o: any): Pod => ({
  name,
  namespace,
  labels: o.metadata.labels,
  ip: `10.244.0.${nextIp++}`,
  ports: o.spec.containers.flatMap((c: { ports?: Pod["ports"] }) => c.ports ?? []),
});

function workspace(id: string) {
  const objects = desiredObjects(
    workspaceSpec.parse({ id, generation: 1, quota: { cpu: "4", memory: "8Gi" } }),
    ctx,
  );
  const ns = `mw-${id}`;
  // biome-ignore lint/suspicious/noExplicitAny: idem
  const deployment = objects.find((o) => o.type.kind === "Deployment")?.object as any;
  const agent = asPod("workspace-agent", ns, deployment.spec.template);
  const dctx = {
    workspaceId: id,
    namespace: ns,
    savepointBaseDir: undefined,
    spec: deploymentSpec.parse(deploymentSpecInput({ parallelism: 2 })),
  };
  const owner = { name: "orders-flink-config", uid: "u" };
  const run = { id: 1, specHash: "h" };
  const jm = asPod("jm", ns, buildJobManagerPod(dctx, owner, run));
  const tm0 = asPod("tm-0", ns, buildTaskManagerPod(dctx, owner, run, 0));
  const tm1 = asPod("tm-1", ns, buildTaskManagerPod(dctx, owner, run, 1));
  const namespace = objects[0]?.object.metadata?.labels ?? {};
  const policies = objects
    .filter((o) => o.type.kind === "NetworkPolicy")
    .map((o) => o.object as NetworkPolicy);
  return { ns, namespace, agent, jm, tm0, tm1, policies };
}

const alpha = workspace("alpha");
const beta = workspace("beta");
const dns = {
  name: "coredns",
  namespace: "kube-system",
  labels: { "k8s-app": "kube-dns" },
  ip: "10.244.9.1",
};
const customer = { name: "app", namespace: "shop", labels: { app: "shop" }, ip: "10.244.9.2" };
const w: World = {
  namespaces: { [alpha.ns]: alpha.namespace, [beta.ns]: beta.namespace, "kube-system": {}, shop: {} },
  pods: [alpha.agent, alpha.jm, alpha.tm0, alpha.tm1, beta.agent, beta.jm, beta.tm0, dns, customer],
  policies: [...alpha.policies, ...beta.policies],
};
const flink = [alpha.jm, alpha.tm0, alpha.tm1];

test("the agent's REST port is the workspace agent's", () => {
  assert.equal(FLINK_REST_PORT, PORT_REST);
});

test("the workspace agent reaches the control plane, the API server, DNS and its JobManager's REST port only", () => {
  assert.ok(allowed(w, alpha.agent, CONTROL_PLANE, 443));
  assert.ok(allowed(w, alpha.agent, API, 443));
  assert.ok(allowed(w, alpha.agent, dns, 53, "UDP") && allowed(w, alpha.agent, dns, 53, "TCP"));
  assert.ok(allowed(w, alpha.agent, alpha.jm, PORT_REST));
  for (const port of [PORT_RPC, PORT_BLOB])
    assert.equal(allowed(w, alpha.agent, alpha.jm, port), false, `${port}`);
  assert.equal(allowed(w, alpha.agent, alpha.tm0, PORT_TM_RPC), false);
  assert.equal(
    allowed(w, alpha.agent, OBJECT_STORE, 443),
    false,
    "the object store is Flink's, not the agent's",
  );
  assert.equal(allowed(w, alpha.agent, ELSEWHERE, 443), false);
  assert.equal(allowed(w, alpha.agent, CONTROL_PLANE, 80), false);
  assert.equal(allowed(w, alpha.agent, beta.jm, PORT_REST), false, "another workspace's JobManager");
  assert.equal(allowed(w, alpha.agent, customer, 80), false);
});

test("Flink pods talk among themselves on every port, to DNS, the API server (Kubernetes HA) and the declared object store only", () => {
  for (const from of flink)
    for (const to of flink.filter((p) => p !== from))
      for (const port of [PORT_RPC, PORT_BLOB, PORT_REST, PORT_TM_RPC, 41234])
        assert.ok(allowed(w, from, to, port), `${from.name} -> ${to.name}:${port}`);
  for (const p of flink) {
    assert.ok(allowed(w, p, dns, 53, "UDP"));
    assert.ok(allowed(w, p, OBJECT_STORE, 443));
    assert.equal(allowed(w, p, OBJECT_STORE, 80), false);
    assert.equal(allowed(w, p, ELSEWHERE, 443), false);
    assert.ok(allowed(w, p, API, 443), `${p.name} reaches the API server for Kubernetes HA's ConfigMaps`);
    assert.equal(allowed(w, p, API, 80), false);
    assert.equal(allowed(w, p, CONTROL_PLANE, 443), false);
    assert.equal(allowed(w, p, alpha.agent, 8080), false, "nothing connects to the workspace agent");
    assert.equal(allowed(w, p, beta.jm, PORT_RPC), false);
    assert.equal(allowed(w, p, customer, 80), false);
  }
});

test("nothing outside the namespace gets in: another workspace, a customer's pod, DNS, the outside", () => {
  for (const target of [...flink, alpha.agent])
    for (const from of [beta.agent, beta.jm, beta.tm0, customer, dns, ELSEWHERE, OBJECT_STORE])
      for (const port of [PORT_RPC, PORT_BLOB, PORT_REST, PORT_TM_RPC, 8080])
        assert.equal(
          allowed(w, from, target, port),
          false,
          `${"name" in from ? from.name : from.ip} -> ${target.name}:${port}`,
        );
});

test("without the three policies the same matrix would be open (the test can fail)", () => {
  const open: World = { ...w, policies: [] };
  assert.ok(allowed(open, beta.jm, alpha.jm, PORT_REST));
  assert.ok(allowed(open, alpha.tm0, ELSEWHERE, 443));
  const onlyDeny: World = {
    ...w,
    policies: w.policies.filter((p) => p.metadata?.name === "meridian-default-deny"),
  };
  assert.equal(allowed(onlyDeny, alpha.tm0, alpha.jm, PORT_RPC), false);
});
