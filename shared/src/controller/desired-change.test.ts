import assert from "node:assert/strict";
import { test } from "node:test";
import { enqueueChange, keysToReconcile, noChange } from "./desired-change.ts";

test("noChange asks for nothing", () => {
  assert.deepEqual(keysToReconcile(noChange()), []);
});

test("every key of a change is enqueued once, refusals are not keys", () => {
  const change = {
    changed: ["a", "b"],
    orphanCandidates: ["c"],
    adopted: ["b", "d"],
    rejectionChanged: ["e", "a"],
    refusals: ["workspace x: spec generation 1 is older than generation 2"],
  };
  assert.deepEqual(keysToReconcile(change), ["a", "b", "c", "d", "e"]);
  const enqueued: string[] = [];
  enqueueChange({ enqueue: (k) => enqueued.push(k) }, change);
  assert.deepEqual(enqueued, ["a", "b", "c", "d", "e"]);
});
