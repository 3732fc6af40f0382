// The pure parts of the campaign's judgement: the inventory comparison (b), the crash-loop rule (e)
// and the scoreboard, on made-up inputs, so each way of failing is seen to fail.
import assert from "node:assert/strict";
import { test } from "node:test";
import { crashLoops, type Restarts } from "./checks.ts";
import { compareInventory, type Inventory } from "./inventory.ts";
import { type ScenarioResult, scoreLine, summary } from "./scoreboard.ts";

const inv = (entries: Array<[string, string]>): Inventory =>
  new Map(entries.map(([key, uid]) => [key, { key, uid }]));

test("the inventory names what was deleted or recreated, and exempts what the scenario replaced", () => {
  const before = inv([
    ["Namespace mw-a", "u1"],
    ["ConfigMap mw-a/customer-data", "u2"],
    ["Pod mw-a/verify-jobmanager", "u3"],
  ]);
  assert.equal(compareInventory(before, before).ok, true);
  const after = inv([
    ["Namespace mw-a", "u1"],
    ["ConfigMap mw-a/customer-data", "u9"],
    ["Pod mw-a/other", "u4"],
  ]);
  const d = compareInventory(before, after);
  assert.equal(d.ok, false);
  assert.deepEqual(d.deleted, ["Pod mw-a/verify-jobmanager"]);
  assert.deepEqual(d.recreated, ["ConfigMap mw-a/customer-data"]);
  assert.deepEqual(d.added, ["Pod mw-a/other"]);
  assert.match(d.summary, /deleted: Pod mw-a\/verify-jobmanager; recreated: ConfigMap mw-a\/customer-data/);
  const exempt = compareInventory(before, after, (k) => k.startsWith("Pod ") || k.startsWith("ConfigMap "));
  assert.equal(exempt.ok, true, exempt.summary);
});

test("a crash loop is a restart beyond the scenario's own kills (one is tolerated) or a waiting container", () => {
  const r = (counts: Record<string, number>, notRunning: string[] = []): Restarts => ({
    counts: new Map(Object.entries(counts)),
    notRunning,
  });
  const before = r({ a: 0, b: 2 });
  assert.deepEqual(
    crashLoops(before, r({ a: 1, b: 3 }), new Map()),
    [],
    "one extra restart each is tolerated",
  );
  assert.deepEqual(crashLoops(before, r({ a: 3, b: 2 }), new Map([["a", 1]])), [
    "a restarted 2 times on its own",
  ]);
  assert.deepEqual(crashLoops(before, r({ a: 0, b: 2 }, ["b: CrashLoopBackOff"]), new Map()), [
    "b: CrashLoopBackOff",
  ]);
});

test("the scoreboard shows the verdict, convergence, each invariant and why one failed", () => {
  const ok = { ok: true, detail: "fine" };
  const pass: ScenarioResult = {
    name: "x",
    verdict: "PASS",
    convergenceMs: 4200,
    invariants: { a: ok, b: ok, c: ok, d: ok, e: ok },
    notes: [],
    durationMs: 9000,
  };
  assert.match(scoreLine(pass), /^PASS +x +conv +4\.2 s +a\+ b\+ c\+ d\+ e\+ +9 s$/);
  const fail: ScenarioResult = {
    ...pass,
    name: "y",
    verdict: "FAIL",
    convergenceMs: undefined,
    invariants: { ...pass.invariants!, c: { ok: false, detail: "workspace phase Pending" } },
  };
  assert.match(scoreLine(fail), /^FAIL +y +conv +- +a\+ b\+ c- d\+ e\+ .*\(c: workspace phase Pending\)$/);
  const lines = summary([pass, fail], 61_000);
  assert.equal(lines[0], "2 scenarios: 1 passed, 1 failed, 0 errors in 61 s");
  assert.equal(lines[1], "invariants held: a 2/2, b 2/2, c 1/2, d 2/2, e 2/2");
  assert.equal(lines[2], "convergence after the fault: median 4.2 s, max 4.2 s");
});
