import assert from "node:assert/strict";
import { test } from "node:test";
import { ConditionBook, phaseOf, type WorkspaceView, workspaceStatus } from "./status.ts";

const base: WorkspaceView = {
  id: "a",
  namespace: "mw-a",
  observedGeneration: 2,
  aligned: true,
  deploymentReady: true,
  deleting: false,
  deleted: false,
};

test("phases follow the most important fact", () => {
  assert.equal(phaseOf(base), "Ready");
  assert.equal(phaseOf({ ...base, deploymentReady: false }), "Pending");
  assert.equal(phaseOf({ ...base, aligned: false, deploymentReady: undefined }), "Pending");
  assert.equal(phaseOf({ ...base, error: { reason: "Forbidden", message: "x" } }), "Degraded");
  assert.equal(phaseOf({ ...base, violations: ["v"] }), "Refused");
  assert.equal(phaseOf({ ...base, orphanedSince: "t" }), "Orphaned");
  assert.equal(phaseOf({ ...base, deleting: true }), "Deleting");
  assert.equal(phaseOf({ ...base, deleting: true, deleted: true }), "Deleted");
});

test("conditions carry reasons and keep their transition time while unchanged", () => {
  const book = new ConditionBook();
  const first = workspaceStatus({ ...base, deploymentReady: false }, book, "2030-01-01T00:00:00Z");
  const byType = (s: typeof first) => Object.fromEntries(s.conditions.map((c) => [c.type, c]));
  assert.equal(byType(first).Ready?.status, "False");
  assert.equal(byType(first).SpecAligned?.status, "True");
  const second = workspaceStatus(base, book, "2030-01-01T00:01:00Z");
  assert.equal(byType(second).Ready?.lastTransitionTime, "2030-01-01T00:01:00Z");
  assert.equal(byType(second).SpecAligned?.lastTransitionTime, "2030-01-01T00:00:00Z");
  const refused = workspaceStatus(
    { ...base, violations: ["quota.cpu 64 exceeds the policy ceiling quotaCeilings.cpu=16"] },
    book,
    "2030-01-01T00:02:00Z",
  );
  assert.equal(byType(refused).PolicyViolation?.status, "True");
  assert.equal(
    byType(refused).PolicyViolation?.message,
    "quota.cpu 64 exceeds the policy ceiling quotaCeilings.cpu=16",
  );
  assert.equal(refused.phase, "Refused");
  const orphan = workspaceStatus(
    { ...base, orphanedSince: "2030-01-01T00:00:00Z" },
    book,
    "2030-01-01T00:03:00Z",
  );
  assert.equal(byType(orphan).Orphaned?.status, "True");
  assert.deepEqual(
    orphan.conditions.map((c) => c.type),
    ["Ready", "SpecAligned", "PolicyViolation", "OwnershipConflict", "Orphaned"],
  );
  assert.equal(byType(orphan).OwnershipConflict?.status, "False");
});

test("an object in the way that is not Meridian's refuses the workspace and names it", () => {
  const book = new ConditionBook();
  const message = "Namespace mw-a already exists and is not Meridian's (…)";
  const v = { ...base, aligned: false, deploymentReady: undefined, conflicts: [message] };
  assert.equal(phaseOf(v), "Refused");
  const s = workspaceStatus(v, book, "2030-01-01T00:00:00Z");
  const byType = Object.fromEntries(s.conditions.map((c) => [c.type, c]));
  assert.deepEqual(
    { status: byType.OwnershipConflict?.status, reason: byType.OwnershipConflict?.reason },
    { status: "True", reason: "ObjectNotOwned" },
  );
  assert.equal(byType.OwnershipConflict?.message, message);
  assert.equal(byType.SpecAligned?.reason, "OwnershipConflict");
  assert.equal(byType.PolicyViolation?.status, "False", "not a policy matter");
  assert.equal(phaseOf({ ...v, deleting: true }), "Deleting");
});

test("a refused spec is reported as SpecRejected only while it stands; Refused when nothing is held", () => {
  const book = new ConditionBook();
  const stale = {
    reason: "StaleGeneration",
    message: "workspace a: spec generation 1 is older than generation 2, which the agent already holds",
    held: true,
  };
  const s = workspaceStatus({ ...base, rejection: stale }, book, "2030-01-01T00:00:00Z");
  const rejected = s.conditions.find((c) => c.type === "SpecRejected");
  assert.equal(rejected?.status, "True");
  assert.equal(rejected?.reason, "StaleGeneration");
  assert.match(rejected?.message ?? "", /older than generation 2.*; generation 2 stays applied$/);
  assert.equal(s.phase, "Ready", "what is held keeps running");
  assert.equal(s.observedGeneration, 2);
  const nothingHeld = {
    ...base,
    aligned: false,
    rejection: { ...stale, reason: "InvalidSpec", held: false },
  };
  assert.equal(phaseOf(nothingHeld), "Refused");
  const cleared = workspaceStatus(base, book, "2030-01-01T00:01:00Z");
  assert.equal(
    cleared.conditions.some((c) => c.type === "SpecRejected"),
    false,
  );
});
