import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLimiter, KeyedQueue } from "./queue.ts";

test("one key never runs two tasks at once; different keys run in parallel", async () => {
  const q = new KeyedQueue();
  let active = 0;
  let maxActivePerKey = 0;
  let overlapAcrossKeys = false;
  const running = new Set<string>();
  const task = (key: string) => async () => {
    active++;
    if (running.has(key)) maxActivePerKey = 2;
    running.add(key);
    if (running.size > 1) overlapAcrossKeys = true;
    maxActivePerKey = Math.max(maxActivePerKey, 1);
    await sleep(10);
    running.delete(key);
    active--;
  };
  await Promise.all([q.schedule("a", task("a")), q.schedule("b", task("b"))]);
  const first = q.schedule("a", task("a"));
  await sleep(1);
  const second = q.schedule("a", task("a"));
  await Promise.all([first, second]);
  assert.equal(maxActivePerKey, 1);
  assert.ok(overlapAcrossKeys);
  assert.equal(active, 0);
  assert.equal(q.size, 0);
});

test("schedules while a run waits coalesce into that run; one follower after a running one", async () => {
  const q = new KeyedQueue();
  let runs = 0;
  const task = async () => {
    runs++;
    await sleep(20);
  };
  const a = q.schedule("k", task); // starts
  await sleep(1);
  const b = q.schedule("k", task); // waits
  const c = q.schedule("k", task); // coalesced into b
  const d = q.schedule("k", task); // coalesced into b
  assert.equal(b, c);
  assert.equal(c, d);
  await Promise.all([a, b, c, d]);
  assert.equal(runs, 2);
});

test("a failing task rejects its own promise and does not block the key", async () => {
  const q = new KeyedQueue();
  await assert.rejects(
    q.schedule("k", async () => {
      throw new Error("boom");
    }),
    /boom/,
  );
  let ran = false;
  await q.schedule("k", async () => {
    ran = true;
  });
  assert.ok(ran);
});

test("concurrency bounds keys running at once; close makes waiting runs no-ops", async () => {
  const q = new KeyedQueue({ concurrency: 2 });
  let active = 0;
  let peak = 0;
  const task = async () => {
    active++;
    peak = Math.max(peak, active);
    await sleep(10);
    active--;
  };
  await Promise.all(["a", "b", "c", "d", "e"].map((k) => q.schedule(k, task)));
  assert.equal(peak, 2);

  let ran = 0;
  const slow = q.schedule("x", () => sleep(20));
  const later = q.schedule("x", async () => {
    ran++;
  });
  q.close();
  await Promise.all([slow, later]);
  assert.equal(ran, 0);
  await q.onIdle();
});

test("the limiter refuses a nonsense bound and limits concurrency", async () => {
  assert.throws(() => createLimiter(0), /positive integer/);
  const l = createLimiter(1);
  let active = 0;
  let peak = 0;
  await Promise.all(
    [1, 2, 3].map(() =>
      l.add(async () => {
        active++;
        peak = Math.max(peak, active);
        await sleep(5);
        active--;
      }),
    ),
  );
  assert.equal(peak, 1);
});
