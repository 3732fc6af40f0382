import assert from "node:assert/strict";
import { test } from "node:test";
import { LABEL_MANAGED_BY, LABEL_WORKSPACE, MANAGED_BY_AGENT, MANAGED_BY_WORKSPACE_AGENT } from "./labels.ts";
import { identityOnly, isOwnedBy, notOwnedReason } from "./ownership.ts";

const obj = (labels?: Record<string, string>) => ({ metadata: { name: "mw-a", labels } });
const ours = { [LABEL_MANAGED_BY]: MANAGED_BY_AGENT, [LABEL_WORKSPACE]: "a" };

test("an object is ours only when labelled with our manager and this very workspace", () => {
  assert.equal(isOwnedBy(obj(ours), MANAGED_BY_AGENT, "a"), true);
  assert.equal(isOwnedBy(obj({ ...ours, team: "x" }), MANAGED_BY_AGENT, "a"), true, "other labels are fine");
  assert.equal(isOwnedBy(undefined, MANAGED_BY_AGENT, "a"), false);
  assert.equal(isOwnedBy(obj(), MANAGED_BY_AGENT, "a"), false, "unlabelled: someone else's");
  assert.equal(isOwnedBy(obj({ [LABEL_WORKSPACE]: "a" }), MANAGED_BY_AGENT, "a"), false);
  assert.equal(isOwnedBy(obj({ [LABEL_MANAGED_BY]: MANAGED_BY_AGENT }), MANAGED_BY_AGENT, "a"), false);
  assert.equal(isOwnedBy(obj(ours), MANAGED_BY_AGENT, "b"), false, "labelled for another workspace");
  assert.equal(isOwnedBy(obj(ours), MANAGED_BY_WORKSPACE_AGENT, "a"), false, "another manager's");
  assert.equal(
    isOwnedBy(obj({ [LABEL_MANAGED_BY]: "Helm", [LABEL_WORKSPACE]: "a" }), MANAGED_BY_AGENT, "a"),
    false,
  );
  assert.equal(isOwnedBy(obj({ ...ours, [LABEL_WORKSPACE]: "A" }), MANAGED_BY_AGENT, "a"), false, "exact");
});

test("the reason names what is missing or different and what ours carry", () => {
  assert.equal(notOwnedReason(obj(ours), MANAGED_BY_AGENT, "a"), undefined);
  assert.equal(
    notOwnedReason(obj(), MANAGED_BY_AGENT, "a"),
    "it has no label app.kubernetes.io/managed-by and it has no label meridian.dev/workspace; " +
      "Meridian's carry app.kubernetes.io/managed-by=meridian-agent and meridian.dev/workspace=a",
  );
  assert.equal(
    notOwnedReason(obj({ ...ours, [LABEL_WORKSPACE]: "b" }), MANAGED_BY_AGENT, "a"),
    'its label meridian.dev/workspace is "b" (another workspace); ' +
      "Meridian's carry app.kubernetes.io/managed-by=meridian-agent and meridian.dev/workspace=a",
  );
  assert.match(
    notOwnedReason(obj({ [LABEL_MANAGED_BY]: "Helm", [LABEL_WORKSPACE]: "a" }), MANAGED_BY_AGENT, "a") ?? "",
    /^its label app.kubernetes.io\/managed-by is "Helm"; /,
  );
});

test("identityOnly keeps who an object is and its labels, never its contents", () => {
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "s",
      namespace: "n",
      uid: "u",
      resourceVersion: "7",
      labels: { team: "x" },
      annotations: { note: "big" },
      managedFields: [{ manager: "kubectl" }],
    },
    data: { password: "c2VjcmV0" },
  };
  assert.deepEqual(identityOnly(secret), {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "s",
      namespace: "n",
      uid: "u",
      resourceVersion: "7",
      labels: { team: "x" },
      deletionTimestamp: undefined,
    },
  });
});
