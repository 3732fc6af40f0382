import assert from "node:assert/strict";
import { test } from "node:test";
import { keysToReconcile } from "@meridian/shared/controller/desired-change";
import { type DeploymentSpec, deploymentSpec, type RefusedItem } from "@meridian/shared/protocol/index";
import { DesiredStore } from "./desired.ts";
import { SPEC_INPUT } from "./spec.testutil.ts";

const spec = (name: string, generation = 1) => deploymentSpec.parse({ ...SPEC_INPUT, name, generation });
const listing = (deployments: DeploymentSpec[], refused: RefusedItem[] = []) => ({ deployments, refused });
const invalid = (index: number, key: string | undefined): RefusedItem => ({
  index,
  key,
  generation: undefined,
  error: `deployments.${index}.parallelism: too small`,
});

test("before a snapshot nothing is known; a snapshot's omissions are orphans, never deletions", () => {
  const d = new DesiredStore({ clusterNames: () => ["c"] });
  assert.deepEqual(d.get("a"), { kind: "unknown" });
  const first = d.snapshot(listing([spec("a"), spec("b")]));
  assert.deepEqual(first.changed, ["a", "b"]);
  assert.deepEqual(first.adopted.sort(), ["a", "b"]);
  assert.deepEqual(first.orphanCandidates, ["c"], "what only the cluster holds is a candidate too");
  assert.deepEqual(keysToReconcile(first).sort(), ["a", "b", "c"]);
  assert.equal(d.get("a").kind, "spec");
  const second = d.snapshot(listing([spec("a")]));
  assert.deepEqual(d.get("b"), { kind: "orphaned" });
  assert.deepEqual(second.orphanCandidates.sort(), ["b", "c"]);
  assert.deepEqual(second.changed, ["a"]);
  assert.deepEqual(second.refusals, []);
});

test("an explicit delete is remembered until the deletion finished; an upsert revives the name", () => {
  const d = new DesiredStore();
  d.snapshot(listing([spec("a")]));
  d.delete("a");
  assert.deepEqual(d.get("a"), { kind: "deleted" });
  assert.deepEqual(d.names(), ["a"]);
  d.snapshot(listing([])); // a later snapshot does not forget a pending deletion
  assert.deepEqual(d.get("a"), { kind: "deleted" });
  d.forget("a");
  assert.deepEqual(d.get("a"), { kind: "orphaned" });
  d.upsert(spec("a"));
  assert.equal(d.get("a").kind, "spec");
});

test("a spec or a delete older than the generation held is refused and changes nothing", () => {
  const d = new DesiredStore();
  d.snapshot(listing([spec("a", 5)]));
  const stale = d.upsert(spec("a", 4));
  assert.match(stale.refusals.join(), /deployment a: spec generation 4 is older than generation 5/);
  assert.deepEqual(stale.changed, [], "a refusal changes nothing desired");
  assert.deepEqual(stale.rejectionChanged, ["a"], "but is published for status");
  const a = d.get("a");
  assert.equal(a.kind === "spec" && a.spec.generation, 5);
  assert.equal(d.rejection("a")?.reason, "StaleGeneration");
  assert.match(d.delete("a", 3).refusals.join(), /delete of generation 3 is older than generation 5/);
  assert.equal(d.get("a").kind, "spec");
  const again = d.upsert(spec("a", 5));
  assert.deepEqual(again.refusals, [], "an equal generation is an idempotent re-apply");
  assert.deepEqual(again.changed, ["a"]);
  assert.equal(d.rejection("a"), undefined);
  const del = d.delete("a");
  assert.deepEqual([del.refusals, del.changed], [[], ["a"]], "a delete without a generation is accepted");
  assert.equal(d.get("a").kind, "deleted");
});

test("the generation in the cluster survives a restart; a stale snapshot item keeps what runs", () => {
  const d = new DesiredStore({ clusterGeneration: (n) => (n === "a" ? 5 : undefined) });
  const { refusals, adopted } = d.snapshot(listing([spec("a", 4), spec("b", 1)]));
  assert.equal(refusals.length, 1);
  assert.deepEqual(adopted.sort(), ["a", "b"], "a refused item is listed: any orphan mark goes");
  assert.deepEqual(d.get("a"), { kind: "held" }, "listed, refused, nothing held in memory: not an orphan");
  assert.equal(d.get("b").kind, "spec");
  assert.ok(d.names().includes("a"));
  assert.match(d.upsert(spec("a", 2)).refusals.join(), /older than generation 5/);
  assert.deepEqual(d.upsert(spec("a", 5)).refusals, []);
  assert.equal(d.get("a").kind, "spec");
});

test("an invalid snapshot item keeps its last good spec and is never an orphan; the others apply", () => {
  const d = new DesiredStore();
  d.snapshot(listing([spec("a"), spec("b")]));
  d.snapshot(listing([spec("a", 2), spec("c")], [invalid(1, "b")]));
  const b = d.get("b");
  assert.equal(b.kind === "spec" && b.spec.generation, 1);
  assert.deepEqual(d.rejection("b"), {
    reason: "InvalidSpec",
    message: "deployments.1.parallelism: too small",
  });
  assert.equal(d.get("c").kind, "spec");
  const a = d.get("a");
  assert.equal(a.kind === "spec" && a.spec.generation, 2);
  // A new deployment whose spec is invalid: reported, nothing to run.
  d.snapshot(listing([spec("a", 2), spec("b"), spec("c")], [invalid(3, "new")]));
  assert.deepEqual(d.get("new"), { kind: "held" });
  assert.equal(d.rejection("b"), undefined);
});

test("an item whose name cannot be read makes the snapshot orphan nothing and keep unlisted specs", () => {
  const d = new DesiredStore();
  d.snapshot(listing([spec("a"), spec("b")]));
  const ambiguous = d.snapshot(listing([spec("a")], [invalid(1, undefined)]));
  assert.deepEqual(ambiguous.orphanCandidates, [], "nothing may be taken for absent");
  assert.equal(d.ambiguous, true);
  assert.equal(d.get("b").kind, "spec", "b may be the unreadable item");
  d.snapshot(listing([spec("a")]));
  assert.equal(d.ambiguous, false);
  assert.deepEqual(d.get("b"), { kind: "orphaned" });
});

test("a workspace being deleted deletes every deployment: desired, orphaned and ones only the cluster holds", () => {
  const d = new DesiredStore();
  d.snapshot({ deployments: [spec("a", 1)], refused: [] });
  const change = d.deleteWorkspace(["a", "old"]);
  assert.deepEqual(change.changed.sort(), ["a", "old"]);
  assert.equal(d.get("a").kind, "deleted");
  assert.equal(d.get("old").kind, "deleted");
  // A spec arriving afterwards does not make it run again.
  d.upsert(spec("a", 2));
  assert.equal(d.get("a").kind, "deleted");
});
