import assert from "node:assert/strict";
import { test } from "node:test";
import { Generations } from "./desired.ts";
import { compareStamps, type Held, heldOf, judgeStamp, laterHeld, specDigest } from "./epoch.ts";

const spec = { id: "a", quota: { memory: "1Gi", cpu: "1" }, workspaceAgent: {} };

test("the digest ignores generation, epoch and key order, and nothing else", () => {
  const d = specDigest({ ...spec, generation: 5, epoch: 7 });
  assert.equal(
    specDigest({ generation: 1, workspaceAgent: {}, quota: { cpu: "1", memory: "1Gi" }, id: "a" }),
    d,
  );
  assert.notEqual(specDigest({ ...spec, generation: 5, quota: { memory: "1Gi", cpu: "2" } }), d);
  assert.notEqual(specDigest({ ...spec, displayName: "x" }), d);
  assert.match(d, /^[0-9a-f]{32}$/);
});

test("stamps order by epoch first, then generation; a tie keeps the one that knows its digest", () => {
  assert.ok(compareStamps({ epoch: 2, generation: 1 }, { epoch: 1, generation: 9 }) > 0);
  assert.ok(compareStamps({ epoch: 1, generation: 3 }, { epoch: 1, generation: 4 }) < 0);
  const known: Held = { epoch: 1, generation: 3, digest: "d" };
  assert.equal(laterHeld({ epoch: 1, generation: 3 }, known), known);
  assert.equal(laterHeld(known, undefined), known);
});

test("within one epoch only the generation counts", () => {
  const held: Held = { epoch: 5, generation: 4, digest: "x" };
  assert.equal(judgeStamp({ epoch: 5, generation: 4 }, held, "spec"), "accept");
  assert.equal(judgeStamp({ epoch: 5, generation: 9 }, held, "spec"), "accept");
  assert.equal(judgeStamp({ epoch: 5, generation: 3, digest: "x" }, held, "spec"), "olderGeneration");
  assert.equal(judgeStamp({ epoch: 5, generation: 3 }, held, "delete"), "olderGeneration");
});

test("an older epoch is refused whatever its generation or content", () => {
  const held: Held = { epoch: 5, generation: 1, digest: "x" };
  assert.equal(judgeStamp({ epoch: 4, generation: 99, digest: "x" }, held, "spec"), "olderEpoch");
  assert.equal(judgeStamp({ epoch: 0, generation: 99 }, held, "delete"), "olderEpoch");
});

test("a newer epoch takes over an unchanged spec, a generation above the held one, or a delete; never a rollback", () => {
  const held: Held = { epoch: 5, generation: 4, digest: "x" };
  assert.equal(judgeStamp({ epoch: 6, generation: 1, digest: "x" }, held, "spec"), "accept");
  assert.equal(judgeStamp({ epoch: 6, generation: 5, digest: "y" }, held, "spec"), "accept");
  assert.equal(judgeStamp({ epoch: 6, generation: 1 }, held, "delete"), "accept");
  assert.equal(judgeStamp({ epoch: 6, generation: 4, digest: "y" }, held, "spec"), "newEpochWouldRollBack");
  // Content unknown on the held side (a newer spec was waiting): only a higher generation takes over.
  const waiting: Held = { epoch: 5, generation: 4 };
  assert.equal(
    judgeStamp({ epoch: 6, generation: 1, digest: "x" }, waiting, "spec"),
    "newEpochWouldRollBack",
  );
});

test("Generations: bare numbers are epoch 0, as before epochs", () => {
  const g = new Generations("workspace", "the agent");
  g.raise("a", 5);
  assert.equal(g.check("a", 5, "spec", undefined), undefined);
  assert.match(
    g.check("a", 4, "spec", undefined)?.message ?? "",
    /spec generation 4 is older than generation 5/,
  );
  // The cluster's record counts too, also when it is newer than this session's.
  assert.match(
    g.check("b", 2, "delete", 3)?.message ?? "",
    /delete of generation 2 is older than generation 3/,
  );
});

test("Generations: a restored control plane's unchanged spec moves the object into its epoch, loudly", () => {
  const g = new Generations("deployment", "the workspace agent");
  const recorded = heldOf({ ...spec, generation: 7, epoch: 100 });
  const restored = heldOf({ ...spec, generation: 1, epoch: 200 });
  assert.equal(g.check("a", restored, "spec", recorded), undefined);
  assert.match(
    g.epochChange("a", restored, recorded) ?? "",
    /deployment a: the control plane's epoch changed from 100 to 200 .* generation 1 takes over from generation 7 with the spec unchanged/,
  );
  g.raise("a", restored);
  assert.equal(g.epochChange("a", restored, recorded), undefined, "once in the new epoch, no more to say");
  // From now on the old epoch is the past: a replay of its generation 8 is refused.
  const replay = heldOf({ ...spec, quota: { cpu: "9", memory: "1Gi" }, generation: 8, epoch: 100 });
  const r = g.check("a", replay, "spec", recorded);
  assert.equal(r?.reason, "StaleGeneration");
  assert.match(
    r?.message ?? "",
    /spec generation 8 is from control-plane epoch 100, older than epoch 200 \(generation 1\)/,
  );
  // A changed spec in the new epoch at or below the generation held before it is refused as a rollback.
  const changed = heldOf({ ...spec, quota: { cpu: "2", memory: "1Gi" }, generation: 7, epoch: 300 });
  assert.match(
    g.check("b", changed, "spec", recorded)?.message ?? "",
    /deployment b: spec generation 7 of the control plane's new epoch 300 is a different spec than generation 7 of epoch 100.*never rolls it back/,
  );
});
