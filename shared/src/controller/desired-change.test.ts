import assert from "node:assert/strict";
import { test } from "node:test";
import { planSnapshot } from "./desired.ts";
import { enqueueChange, keysToReconcile, noChange, snapshotChange } from "./desired-change.ts";

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

test("a snapshot's change: accepted keys changed, unlisted held keys are orphan candidates unless deleting", () => {
  const spec = (name: string, generation = 1) => ({ name, generation });
  const previous = new Map([
    ["a", spec("a")],
    ["gone", spec("gone")],
  ]);
  const plan = planSnapshot({
    items: [spec("a", 2), spec("old", 1)],
    refused: [{ index: 2, key: "bad", generation: undefined, error: "deployments.2.name: too long" }],
    key: (s) => s.name,
    stale: (s) => (s.name === "old" ? { reason: "StaleGeneration", message: "old is stale" } : undefined),
    previous,
  });
  const change = snapshotChange(plan, (s) => s.name, {
    keys: ["a", "gone", "cluster-only", "being-deleted"],
    rejected: ["was-rejected"],
    deleting: (k) => k === "being-deleted",
  });
  assert.deepEqual(change.changed, ["a"]);
  assert.deepEqual(change.orphanCandidates, ["gone", "cluster-only"]);
  assert.deepEqual(change.adopted.sort(), ["a", "bad", "old"], "refused items are listed too");
  assert.deepEqual(change.rejectionChanged.sort(), ["bad", "old", "was-rejected"]);
  assert.deepEqual(change.refusals, ["old is stale"]);
});

test("an ambiguous snapshot's change has no orphan candidate", () => {
  const plan = planSnapshot({
    items: [{ name: "a" }],
    refused: [{ index: 1, key: undefined, generation: undefined, error: "deployments.1: not an object" }],
    key: (s) => s.name,
    stale: () => undefined,
    previous: new Map([["b", { name: "b" }]]),
  });
  const change = snapshotChange(plan, (s) => s.name, {
    keys: ["b", "c"],
    rejected: [],
    deleting: () => false,
  });
  assert.deepEqual(change.orphanCandidates, []);
});
