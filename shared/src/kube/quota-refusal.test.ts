import assert from "node:assert/strict";
import { test } from "node:test";
import { KubeApiError } from "./errors.ts";
import { describeQuotaRefusal, quotaRefusalOf } from "./quota-refusal.ts";

const forbidden = (message: string, status = 403) =>
  new KubeApiError("PATCH", "/api/v1/namespaces/mw-a/pods/x", status, {
    kind: "Status",
    status: "Failure",
    reason: "Forbidden",
    code: status,
    message,
  });

test("the ResourceQuota plugin's refusal is read into quota, requested, used and limited", () => {
  const err = forbidden(
    'pods "verify-taskmanager-0" is forbidden: exceeded quota: meridian-workspace-quota, ' +
      "requested: limits.memory=1Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi",
  );
  assert.deepEqual(quotaRefusalOf(err), {
    quota: "meridian-workspace-quota",
    requested: "limits.memory=1Gi",
    used: "limits.memory=7Gi",
    limited: "limits.memory=8Gi",
  });
});

test("several resources over the quota: every pair is kept, commas and all", () => {
  const err = forbidden(
    'pods "jm" is forbidden: exceeded quota: q1, requested: limits.cpu=2,limits.memory=1Gi, ' +
      "used: limits.cpu=7,limits.memory=7680Mi, limited: limits.cpu=8,limits.memory=8Gi",
  );
  assert.deepEqual(quotaRefusalOf(err), {
    quota: "q1",
    requested: "limits.cpu=2,limits.memory=1Gi",
    used: "limits.cpu=7,limits.memory=7680Mi",
    limited: "limits.cpu=8,limits.memory=8Gi",
  });
});

test("other refusals are not quota refusals", () => {
  // RBAC, Pod Security, the quota plugin's other message, another status, a non-Kubernetes error.
  assert.equal(
    quotaRefusalOf(forbidden('pods is forbidden: User "x" cannot create resource "pods"')),
    undefined,
  );
  assert.equal(
    quotaRefusalOf(forbidden('pods "x" is forbidden: violates PodSecurity "restricted:latest"')),
    undefined,
  );
  assert.equal(
    quotaRefusalOf(forbidden('pods "x" is forbidden: failed quota: q: must specify limits.cpu for: tm')),
    undefined,
  );
  const exceeded = "exceeded quota: q, requested: a=1, used: a=1, limited: a=1";
  assert.equal(quotaRefusalOf(forbidden(exceeded, 422)), undefined);
  assert.equal(quotaRefusalOf(new Error(exceeded)), undefined);
  assert.equal(quotaRefusalOf(forbidden(`${"x".repeat(3000)} ${exceeded}`)), undefined);
});

test("the sentence names the object, the quota and the numbers", () => {
  const r = {
    quota: "q",
    requested: "limits.memory=1Gi",
    used: "limits.memory=7Gi",
    limited: "limits.memory=8Gi",
  };
  assert.equal(
    describeQuotaRefusal("pod tm-0", r),
    "pod tm-0 cannot be created: it would exceed ResourceQuota q (requested limits.memory=1Gi; used limits.memory=7Gi; limited limits.memory=8Gi)",
  );
});
