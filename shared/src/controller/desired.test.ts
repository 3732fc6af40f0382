import assert from "node:assert/strict";
import { test } from "node:test";
import type { RefusedItem } from "../protocol/items.ts";
import { Generations, planSnapshot } from "./desired.ts";

interface Item {
  id: string;
  generation: number;
}
const item = (id: string, generation = 1): Item => ({ id, generation });
const refused = (key: string | undefined): RefusedItem => ({
  index: 0,
  key,
  generation: undefined,
  error: "bad",
});

test("generations only move forward: older is refused naming both, equal is accepted, the cluster counts", () => {
  const g = new Generations("workspace", "the agent");
  assert.equal(g.check("a", 1, "spec", undefined), undefined, "nothing held yet");
  g.raise("a", 5);
  g.raise("a", 3);
  assert.equal(g.check("a", 5, "spec", undefined), undefined);
  assert.deepEqual(g.check("a", 4, "delete", undefined), {
    reason: "StaleGeneration",
    message:
      "workspace a: delete of generation 4 is older than generation 5, which the agent already holds; ignored (generations only move forward)",
  });
  assert.match(g.check("a", 6, "spec", 7)?.message ?? "", /spec generation 6 is older than generation 7/);
  g.forget("a");
  assert.equal(g.check("a", 1, "spec", undefined), undefined);
});

test("a snapshot plan: accepted, stale and invalid items, what is held, what is listed", () => {
  const previous = new Map([
    ["a", item("a", 1)],
    ["b", item("b", 1)],
    ["c", item("c", 1)],
    ["gone", item("gone", 1)],
  ]);
  const plan = planSnapshot({
    items: [item("a", 2), item("c", 0), item("new")],
    refused: [refused("b")],
    key: (i) => i.id,
    stale: (i) => (i.generation < 1 ? { reason: "StaleGeneration", message: `${i.id} stale` } : undefined),
    previous,
  });
  assert.deepEqual(
    plan.accepted.map((i) => i.id),
    ["a", "new"],
  );
  assert.deepEqual([...plan.specs.keys()].sort(), ["a", "b", "c", "new"], "refused ones keep their spec");
  assert.equal(plan.specs.get("c")?.generation, 1);
  assert.deepEqual([...plan.listed].sort(), ["a", "b", "c", "new"], "gone is the only one absent");
  assert.deepEqual(plan.refusals, ["c stale"]);
  assert.equal(plan.rejections.get("b")?.reason, "InvalidSpec");
  assert.equal(plan.ambiguous, false);
  const ambiguous = planSnapshot<Item>({
    items: [],
    refused: [refused(undefined)],
    key: (i) => i.id,
    stale: () => undefined,
    previous,
  });
  assert.equal(ambiguous.ambiguous, true);
  assert.deepEqual(
    [...ambiguous.specs.keys()].sort(),
    ["a", "b", "c", "gone"],
    "nothing unlisted is dropped",
  );
});
