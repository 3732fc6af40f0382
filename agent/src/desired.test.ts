import assert from "node:assert/strict";
import { test } from "node:test";
import { type AgentEvent, type RefusedItem, workspaceSpec } from "@meridian/shared/protocol/index";
import { type ClusterMemory, DesiredState } from "./desired.ts";

const ws = (id: string, generation = 1) =>
  workspaceSpec.parse({ id, generation, quota: { cpu: "1", memory: "1Gi" } });
const snapshotOf = (workspaces: ReturnType<typeof ws>[], refused: RefusedItem[] = []): AgentEvent => ({
  type: "snapshot",
  id: "1",
  data: { workspaces, refused },
});
const snapshot = (...ids: string[]): AgentEvent => snapshotOf(ids.map((i) => ws(i)));
const upsert = (id: string, generation: number): AgentEvent => ({
  type: "workspace.upsert",
  id: "2",
  data: { workspace: ws(id, generation) },
});
/** A cluster holding namespaces for `ids`, with the generations recorded on them. */
const cluster = (ids: string[], generations: Record<string, number> = {}): ClusterMemory => ({
  ids: () => ids,
  generation: (id) => generations[id],
});
const empty = cluster([]);

test("a snapshot replaces the desired set; what it no longer lists becomes an orphan candidate", () => {
  const s = new DesiredState();
  assert.equal(s.snapshotSeen, false);
  const first = s.apply(snapshot("a", "b"), cluster(["c"]));
  assert.equal(s.snapshotSeen, true);
  assert.deepEqual(first.changed, ["a", "b"]);
  assert.deepEqual(first.orphanCandidates, ["c"], "in the cluster but not listed");
  const second = s.apply(snapshot("b", "c"), cluster(["a", "b", "c"]));
  assert.deepEqual(second.orphanCandidates, ["a"]);
  assert.deepEqual(second.adopted.sort(), ["b", "c"]);
  assert.deepEqual(s.ids().sort(), ["b", "c"]);
});

test("upsert and delete are explicit; a delete is remembered until the namespace is gone", () => {
  const s = new DesiredState();
  s.apply(snapshot("a"), empty);
  const up = s.apply(upsert("b", 2), empty);
  assert.deepEqual(up.changed, ["b"]);
  assert.deepEqual(up.orphanCandidates, []);
  assert.deepEqual(up.adopted, ["b"]);
  assert.equal(s.get("b")?.generation, 2);
  const del = s.apply({ type: "workspace.delete", id: "3", data: { id: "a" } }, cluster(["a"]));
  assert.deepEqual(del.changed, ["a"]);
  assert.equal(s.get("a"), undefined);
  assert.ok(s.isDeleting("a"));
  // A snapshot taken after the delete does not list it, and does not make it an orphan.
  assert.deepEqual(s.apply(snapshot("b"), cluster(["a", "b"])).orphanCandidates, []);
  s.finishDeleting("a");
  assert.deepEqual(s.deletingIds(), []);
  // Re-created after a delete: no longer deleting.
  s.apply({ type: "workspace.delete", id: "4", data: { id: "b" } }, cluster(["b"]));
  s.apply(upsert("b", 3), cluster(["b"]));
  assert.equal(s.isDeleting("b"), false);
});

test("a spec older than the generation held is refused and changes nothing; an equal one is accepted", () => {
  const s = new DesiredState();
  s.apply(snapshotOf([ws("a", 5)]), empty);
  const stale = s.apply(upsert("a", 4), empty);
  assert.deepEqual([stale.changed, stale.adopted, stale.rejectionChanged], [[], [], ["a"]]);
  assert.match(stale.refusals[0] ?? "", /workspace a: spec generation 4 is older than generation 5/);
  assert.equal(s.get("a")?.generation, 5, "the held spec stays");
  assert.equal(s.rejection("a")?.reason, "StaleGeneration");
  const same = s.apply(upsert("a", 5), empty);
  assert.deepEqual(same.changed, ["a"], "an equal generation is an idempotent re-apply");
  assert.equal(s.rejection("a"), undefined, "an accepted spec clears the rejection");
  // A stale item of a snapshot keeps the held spec, is not an orphan, and the rest applies.
  const snap = s.apply(snapshotOf([ws("a", 3), ws("b", 1)]), cluster(["a"]));
  assert.deepEqual(snap.changed, ["b"]);
  assert.deepEqual(snap.orphanCandidates, []);
  assert.deepEqual(snap.adopted.sort(), ["a", "b"]);
  assert.equal(s.get("a")?.generation, 5);
  assert.equal(snap.refusals.length, 1);
});

test("the generation recorded in the cluster survives a restart: a fresh state still refuses older specs", () => {
  const s = new DesiredState();
  const restarted = cluster(["a"], { a: 5 });
  const snap = s.apply(snapshotOf([ws("a", 4)]), restarted);
  assert.deepEqual(snap.changed, []);
  assert.deepEqual(snap.orphanCandidates, [], "listed with a stale spec: not absent");
  assert.equal(s.get("a"), undefined, "nothing older is taken on");
  assert.deepEqual(s.rejectedIds(), ["a"]);
  assert.equal(s.apply(upsert("a", 4), restarted).changed.length, 0);
  assert.deepEqual(s.apply(upsert("a", 5), restarted).changed, ["a"]);
});

test("a delete naming a generation older than the one held is refused; one without a generation is not", () => {
  const s = new DesiredState();
  s.apply(snapshotOf([ws("a", 5), ws("b", 2)]), empty);
  const stale = s.apply({ type: "workspace.delete", id: "3", data: { id: "a", generation: 4 } }, empty);
  assert.deepEqual(stale.changed, []);
  assert.match(stale.refusals[0] ?? "", /delete of generation 4 is older than generation 5/);
  assert.equal(s.isDeleting("a"), false);
  assert.ok(s.get("a"));
  s.apply({ type: "workspace.delete", id: "4", data: { id: "a", generation: 5 } }, empty);
  assert.ok(s.isDeleting("a"));
  s.apply({ type: "workspace.delete", id: "5", data: { id: "b" } }, empty);
  assert.ok(s.isDeleting("b"));
});

test("a refused snapshot item keeps its spec and is never an orphan; the others apply", () => {
  const s = new DesiredState();
  s.apply(snapshotOf([ws("a", 1), ws("b", 1)]), empty);
  const refused: RefusedItem[] = [
    { index: 1, key: "b", generation: 2, error: "workspaces.1.quota.cpu: must be a Kubernetes quantity" },
  ];
  const e = s.apply(snapshotOf([ws("a", 2), ws("c", 1)], refused), cluster(["a", "b"]));
  assert.deepEqual(e.changed.sort(), ["a", "c"]);
  assert.deepEqual(e.orphanCandidates, []);
  assert.deepEqual(e.adopted.sort(), ["a", "b", "c"]);
  assert.equal(s.get("a")?.generation, 2);
  assert.equal(s.get("b")?.generation, 1, "b keeps its last good spec");
  assert.deepEqual(s.rejection("b"), { reason: "InvalidSpec", message: refused[0]?.error });
  assert.deepEqual(e.refusals, [], "the stream already counted the invalid item");
  // The next snapshot lists b validly: the rejection goes.
  const next = s.apply(snapshotOf([ws("a", 2), ws("b", 3), ws("c", 1)]), cluster(["a", "b", "c"]));
  assert.ok(next.rejectionChanged.includes("b"));
  assert.equal(s.rejection("b"), undefined);
});

test("an item whose id cannot be read makes the snapshot orphan nothing and keep unlisted specs", () => {
  const s = new DesiredState();
  s.apply(snapshotOf([ws("a"), ws("b")]), empty);
  const unreadable: RefusedItem = {
    index: 1,
    key: undefined,
    generation: undefined,
    error: "workspaces.1: …",
  };
  const e = s.apply(snapshotOf([ws("a", 2)], [unreadable]), cluster(["a", "b", "c"]));
  assert.equal(s.ambiguous, true);
  assert.deepEqual(e.orphanCandidates, []);
  assert.deepEqual(e.changed, ["a"]);
  assert.equal(s.get("b")?.generation, 1, "b may be the unreadable item: its spec is kept");
  const clear = s.apply(snapshotOf([ws("a", 2)]), cluster(["a", "b", "c"]));
  assert.equal(s.ambiguous, false);
  assert.deepEqual(clear.orphanCandidates.sort(), ["b", "c"]);
});
