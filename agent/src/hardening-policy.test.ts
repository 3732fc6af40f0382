import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_POLICY, policySchema } from "./policy.ts";

const issues = (policy: unknown) =>
  (policySchema.safeParse(policy).error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

test("workspace namespaces enforce restricted at the latest version unless the policy says otherwise", () => {
  assert.deepEqual(DEFAULT_POLICY.podSecurity, { enforce: "restricted", version: "latest" });
  assert.deepEqual(DEFAULT_POLICY.allowedEgress, []);
  const pinned = policySchema.parse({ podSecurity: { version: "v1.35" } });
  assert.deepEqual(pinned.podSecurity, { enforce: "restricted", version: "v1.35" });
});

test("less than restricted needs a reason, and says so naming the field", () => {
  assert.deepEqual(issues({ podSecurity: { enforce: "baseline" } }), [
    "podSecurity.reason: is required when enforce is baseline: say why workspaces may not run restricted (it is kept on every namespace)",
  ]);
  assert.deepEqual(issues({ podSecurity: { enforce: "privileged", reason: "  " } }).length, 1);
  const relaxed = policySchema.parse({
    podSecurity: { enforce: "baseline", reason: "a vendor sidecar runs as root" },
  });
  assert.equal(relaxed.podSecurity.reason, "a vendor sidecar runs as root");
  assert.match(issues({ podSecurity: { enforce: "strict" } })[0] ?? "", /^podSecurity\.enforce: /);
  assert.match(
    issues({ podSecurity: { version: "1.35" } })[0] ?? "",
    /^podSecurity\.version: must be latest or/,
  );
  assert.match(issues({ podSecurity: { level: "restricted" } })[0] ?? "", /^podSecurity: /);
});

test("allowedEgress: CIDRs (IPv4 or IPv6) with exceptions and TCP ports; anything else is named", () => {
  const p = policySchema.parse({
    allowedEgress: [
      { cidr: "10.20.0.0/16", except: ["10.20.1.0/24"], ports: [443, 9092] },
      { cidr: "2001:db8::/32" },
    ],
  });
  assert.deepEqual(p.allowedEgress, [
    { cidr: "10.20.0.0/16", except: ["10.20.1.0/24"], ports: [443, 9092] },
    { cidr: "2001:db8::/32", except: [], ports: [] },
  ]);
  for (const [bad, field] of [
    [{ cidr: "10.0.0.0" }, "allowedEgress.0.cidr"],
    [{ cidr: "10.0.0.0/33" }, "allowedEgress.0.cidr"],
    [{ cidr: "s3.amazonaws.com/32" }, "allowedEgress.0.cidr"],
    [{ cidr: "10.0.0.0/8", ports: [0] }, "allowedEgress.0.ports.0"],
    [{ cidr: "10.0.0.0/8", host: "x" }, "allowedEgress.0"],
  ] as const)
    assert.match(
      issues({ allowedEgress: [bad] })[0] ?? "",
      new RegExp(`^${field.replaceAll(".", "\\.")}: `),
      JSON.stringify(bad),
    );
});
