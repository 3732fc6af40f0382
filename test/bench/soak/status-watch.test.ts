// The soak's status watch: a status that stopped arriving for good is a gap as long as it stayed
// away, not no gap at all (the 1,000-workspace soak saw "longest gap 5.8 s" while every status POST
// was refused for the last ten minutes).
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { StatusWatch } from "./status-watch.ts";

test("a status that stops arriving is a gap up to the last poll", async () => {
  let receivedAt = new Date().toISOString();
  const watch = new StatusWatch(async () => ({ receivedAt, items: new Map() }));
  await watch.poll();
  await sleep(50);
  receivedAt = new Date().toISOString();
  await watch.poll();
  await sleep(400);
  await watch.poll(); // nothing new since the second document
  const f = watch.figures();
  assert.equal(f.documents, 2);
  assert.ok(f.maxGapMs >= 400, `the open gap counts: ${f.maxGapMs} ms`);
});

test("documents that keep arriving leave only their own gaps", async () => {
  let n = 0;
  const start = Date.now();
  const watch = new StatusWatch(async () => ({
    receivedAt: new Date(start + 100 * n++).toISOString(),
    items: new Map(),
  }));
  for (let i = 0; i < 5; i++) await watch.poll();
  const f = watch.figures();
  assert.equal(f.documents, 5);
  assert.equal(f.maxGapMs, 100);
});
