import assert from "node:assert/strict";
import { test } from "node:test";
import { ANNOTATION_ORPHANED_SINCE, isMarkedOrphan, planOrphan } from "./orphan.ts";

const T0 = Date.parse("2026-12-06T10:00:00.000Z");
const HOUR = 3_600_000;

test("an unmarked orphan is marked now and deleted after the grace period", () => {
  assert.deepEqual(planOrphan(undefined, T0, HOUR), {
    state: "mark",
    since: "2026-12-06T10:00:00.000Z",
    deleteAtMs: T0 + HOUR,
  });
});

test("a mark written before a restart keeps counting from when it was written", () => {
  const annotations = { [ANNOTATION_ORPHANED_SINCE]: "2026-12-06T09:30:00.000Z" };
  assert.deepEqual(planOrphan(annotations, T0, HOUR), {
    state: "waiting",
    since: "2026-12-06T09:30:00.000Z",
    deleteAtMs: T0 + HOUR / 2,
  });
  assert.equal(planOrphan(annotations, T0 + HOUR / 2, HOUR).state, "expired");
  assert.equal(planOrphan(annotations, T0 + HOUR / 2 - 1, HOUR).state, "waiting");
});

test("an unreadable or future mark is replaced by now: it can never shorten the grace period", () => {
  for (const mark of ["yesterday", "", "2027-01-01T00:00:00.000Z"]) {
    const plan = planOrphan({ [ANNOTATION_ORPHANED_SINCE]: mark }, T0, HOUR);
    assert.equal(plan.state, "mark", mark);
    assert.equal(plan.deleteAtMs, T0 + HOUR, mark);
  }
});

test("isMarkedOrphan reads the annotation", () => {
  assert.equal(isMarkedOrphan({ [ANNOTATION_ORPHANED_SINCE]: "x" }), true);
  assert.equal(isMarkedOrphan({}), false);
  assert.equal(isMarkedOrphan(undefined), false);
});
