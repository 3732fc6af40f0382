import assert from "node:assert/strict";
import { test } from "node:test";
import { type AgentEvent, workspaceSpec } from "@meridian/shared/protocol/index";
import { DesiredState } from "./inbound.ts";

const ws = (id: string, generation = 1) =>
  workspaceSpec.parse({ id, generation, quota: { cpu: "1", memory: "1Gi" } });
const snapshot = (...ids: string[]): AgentEvent => ({
  type: "snapshot",
  id: "1",
  data: { workspaces: ids.map((i) => ws(i)) },
});

test("a snapshot replaces the desired set; what it no longer lists becomes an orphan candidate", () => {
  const s = new DesiredState();
  assert.equal(s.snapshotSeen, false);
  const first = s.apply(snapshot("a", "b"), ["c"]);
  assert.equal(s.snapshotSeen, true);
  assert.deepEqual(first.reconcile, ["a", "b"]);
  assert.deepEqual(first.orphanCandidates, ["c"], "in the cluster but not listed");
  const second = s.apply(snapshot("b", "c"), ["a", "b", "c"]);
  assert.deepEqual(second.orphanCandidates, ["a"]);
  assert.deepEqual(second.adopted.sort(), ["b", "c"]);
  assert.deepEqual(s.ids().sort(), ["b", "c"]);
});

test("upsert and delete are explicit; a delete is remembered until the namespace is gone", () => {
  const s = new DesiredState();
  s.apply(snapshot("a"), []);
  const up = s.apply({ type: "workspace.upsert", id: "2", data: { workspace: ws("b", 2) } }, []);
  assert.deepEqual(up, { reconcile: ["b"], orphanCandidates: [], adopted: ["b"] });
  assert.equal(s.get("b")?.generation, 2);
  const del = s.apply({ type: "workspace.delete", id: "3", data: { id: "a" } }, ["a"]);
  assert.deepEqual(del.reconcile, ["a"]);
  assert.equal(s.get("a"), undefined);
  assert.ok(s.isDeleting("a"));
  // A snapshot taken after the delete does not list it, and does not make it an orphan.
  assert.deepEqual(s.apply(snapshot("b"), ["a", "b"]).orphanCandidates, []);
  s.finishDeleting("a");
  assert.deepEqual(s.deletingIds(), []);
  // Re-created after a delete: no longer deleting.
  s.apply({ type: "workspace.delete", id: "4", data: { id: "b" } }, ["b"]);
  s.apply({ type: "workspace.upsert", id: "5", data: { workspace: ws("b", 3) } }, ["b"]);
  assert.equal(s.isDeleting("b"), false);
});
