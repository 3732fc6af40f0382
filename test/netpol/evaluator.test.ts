// The evaluator against the NetworkPolicy semantics it claims (cases after the Kubernetes documentation
// and the upstream network-policy conformance tests), so that a verdict of workspace.test.ts means what
// the API reference means.
import assert from "node:assert/strict";
import { test } from "node:test";
import { allowed, inCidr, type NetworkPolicy, type Pod, type World } from "./evaluator.ts";

const pod = (name: string, namespace: string, labels: Record<string, string>, ip: string): Pod => ({
  name,
  namespace,
  labels,
  ip,
  ports: [{ name: "http", containerPort: 8080 }],
});
const a = pod("a", "x", { app: "a" }, "10.1.0.1");
const b = pod("b", "x", { app: "b" }, "10.1.0.2");
const c = pod("c", "y", { app: "a" }, "10.1.0.3");
const outside = { ip: "192.0.2.7" };
const world = (...policies: NetworkPolicy[]): World => ({
  namespaces: { x: { team: "x" }, y: { team: "y" } },
  pods: [a, b, c],
  policies,
});
const np = (namespace: string, spec: NetworkPolicy["spec"]): NetworkPolicy => ({
  metadata: { namespace },
  spec,
});

test("no policy: everything flows; a pod selected for ingress with no rules takes nothing in", () => {
  assert.ok(allowed(world(), c, a, 80));
  const denyIn = world(np("x", { podSelector: {} }));
  assert.equal(allowed(denyIn, b, a, 80), false);
  assert.equal(allowed(denyIn, outside, a, 80), false);
  assert.ok(allowed(denyIn, a, c, 80), "egress is not isolated by an ingress-only policy");
  assert.ok(allowed(denyIn, c, outside, 80), "pods of other namespaces are not selected");
});

test("policyTypes: absent means Ingress, plus Egress when egress rules exist", () => {
  const egressRules = world(
    np("x", { podSelector: { matchLabels: { app: "a" } }, egress: [{ ports: [{ port: 53 }] }] }),
  );
  assert.equal(allowed(egressRules, a, b, 80), false);
  assert.ok(allowed(egressRules, a, b, 53));
  assert.equal(allowed(egressRules, c, a, 80), false, "ingress isolated too, with no ingress rule");
  const egressOnly = world(np("x", { podSelector: {}, policyTypes: ["Egress"] }));
  assert.ok(allowed(egressOnly, c, a, 80));
  assert.equal(allowed(egressOnly, a, c, 80), false);
});

test("peers: podSelector is the policy's namespace, namespaceSelector alone all its pods, both together AND", () => {
  const from = (peers: object[]) =>
    world(np("x", { podSelector: { matchLabels: { app: "a" } }, ingress: [{ from: peers as never }] }));
  const samePods = from([{ podSelector: { matchLabels: { app: "a" } } }]);
  assert.equal(allowed(samePods, c, a, 80), false, "app=a in another namespace does not match");
  const ns = from([{ namespaceSelector: { matchLabels: { team: "y" } } }]);
  assert.ok(allowed(ns, c, a, 80));
  assert.equal(allowed(ns, b, a, 80), false);
  const and = from([
    { namespaceSelector: { matchLabels: { team: "y" } }, podSelector: { matchLabels: { app: "b" } } },
  ]);
  assert.equal(allowed(and, c, a, 80), false);
  const or = from([
    { namespaceSelector: { matchLabels: { team: "y" } } },
    { podSelector: { matchLabels: { app: "b" } } },
  ]);
  assert.ok(allowed(or, c, a, 80) && allowed(or, b, a, 80));
  const byName = from([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "y" } } }]);
  assert.ok(allowed(byName, c, a, 80));
  const expr = from([
    { podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["b", "z"] }] } },
  ]);
  assert.ok(allowed(expr, b, a, 80));
  assert.equal(allowed(expr, a, a, 80), false);
  const notIn = from([
    { podSelector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["b"] }] } },
  ]);
  assert.equal(allowed(notIn, b, a, 80), false);
});

test("ipBlock with exceptions, IPv4 and IPv6; ports by number, range, name and protocol", () => {
  const out = world(
    np("x", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        { to: [{ ipBlock: { cidr: "192.0.2.0/24", except: ["192.0.2.128/25"] } }], ports: [{ port: 443 }] },
        { to: [{ ipBlock: { cidr: "2001:db8::/32" } }] },
        {
          ports: [
            { port: 9000, endPort: 9010 },
            { port: 53, protocol: "UDP" },
          ],
        },
        { to: [{ podSelector: { matchLabels: { app: "b" } } }], ports: [{ port: "http" }] },
      ],
    }),
  );
  assert.ok(allowed(out, a, { ip: "192.0.2.7" }, 443));
  assert.equal(allowed(out, a, { ip: "192.0.2.200" }, 443), false, "excepted");
  assert.equal(allowed(out, a, { ip: "192.0.2.7" }, 80), false);
  assert.ok(allowed(out, a, { ip: "2001:db8::1" }, 1));
  assert.equal(allowed(out, a, { ip: "2001:db9::1" }, 1), false);
  assert.ok(allowed(out, a, outside, 9005));
  assert.equal(allowed(out, a, outside, 9011), false);
  assert.ok(allowed(out, a, outside, 53, "UDP"));
  assert.equal(allowed(out, a, outside, 53, "TCP"), false);
  assert.ok(allowed(out, a, b, 8080), "the named port resolves on the target pod");
  assert.equal(allowed(out, a, b, 8081), false);
  assert.ok(
    inCidr("10.1.2.3", "10.0.0.0/8") && !inCidr("10.1.2.3", "10.1.3.0/24") && !inCidr("::1", "0.0.0.0/0"),
  );
});

test("policies add up, and a connection needs both ends' consent", () => {
  const w = world(
    np("x", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    np("x", {
      podSelector: { matchLabels: { app: "a" } },
      policyTypes: ["Egress"],
      egress: [{ to: [{ podSelector: {} }] }],
    }),
  );
  assert.equal(allowed(w, a, b, 80), false, "b's ingress is still denied");
  w.policies.push(
    np("x", { podSelector: { matchLabels: { app: "b" } }, ingress: [{ from: [{ podSelector: {} }] }] }),
  );
  assert.ok(allowed(w, a, b, 80));
  assert.equal(allowed(w, b, a, 80), false, "b's egress and a's ingress are not allowed");
});
