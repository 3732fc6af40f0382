import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff, backoffDelay, checkBackoffPolicy, jittered, longBackoffMs, sleep } from "./backoff.ts";

const top = () => 0.999999;

test("the ceiling doubles per attempt and stops at the cap", () => {
  const p = { baseMs: 100, capMs: 1000, floorMs: 0 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 1000].map((a) => backoffDelay(a, p, top)),
    [99, 199, 399, 799, 999, 999, 999],
  );
  assert.equal(
    backoffDelay(2, p, () => 0.5),
    200,
  );
  assert.equal(backoffDelay(-3, p, top), 99, "a negative attempt counts as the first");
});

test("full jitter: every delay lies in [floor, min(cap, base·2^attempt)] and the range is used", () => {
  const p = { baseMs: 100, capMs: 2000, floorMs: 30 };
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(2000, 100 * 2 ** attempt);
    const seen = Array.from({ length: 400 }, () => backoffDelay(attempt, p));
    for (const d of seen)
      assert.ok(d >= 30 && d <= ceiling, `attempt ${attempt}: ${d} outside [30, ${ceiling}]`);
    assert.ok(Math.min(...seen) < 30 + ceiling * 0.1, `attempt ${attempt}: the low end is reached`);
    assert.ok(Math.max(...seen) > ceiling * 0.9, `attempt ${attempt}: the high end is reached`);
  }
});

test("the floor holds even when the random draw is 0; it defaults to 50 ms and never exceeds the cap", () => {
  assert.equal(
    backoffDelay(0, { baseMs: 100, capMs: 1000, floorMs: 200 }, () => 0),
    200,
  );
  assert.equal(
    backoffDelay(5, { baseMs: 100, capMs: 1000 }, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(5, { baseMs: 10, capMs: 20 }, () => 0),
    20,
    "floor clamped to the cap",
  );
});

test("bad policies are refused with the values named", () => {
  assert.throws(() => checkBackoffPolicy({ baseMs: 2000, capMs: 1000 }), /baseMs=2000 capMs=1000/);
  assert.throws(() => checkBackoffPolicy({ baseMs: 0, capMs: 1000 }), /baseMs=0/);
  assert.throws(() => new Backoff({ baseMs: 100, capMs: 1000, floorMs: -1 }), /floorMs=-1/);
  checkBackoffPolicy({ baseMs: 1, capMs: 1, floorMs: 0 });
});

test("Backoff counts failures and follows the same delays", () => {
  const b = new Backoff({ baseMs: 100, capMs: 1000, floorMs: 0, random: top });
  assert.deepEqual(
    Array.from({ length: 7 }, () => b.next()),
    [99, 199, 399, 799, 999, 999, 999],
  );
  assert.equal(b.attempt, 7);
  const low = new Backoff({ random: () => 0 });
  assert.equal(low.next(), 50, "default floor");
  const dflt = new Backoff({ random: top });
  assert.deepEqual([dflt.next(), dflt.next()], [499, 999], "default 500 ms first ceiling");
});

test("a healthy period resets the counter, a short one does not; health counts from its first report", () => {
  let now = 0;
  const b = new Backoff({
    baseMs: 100,
    capMs: 10_000,
    floorMs: 0,
    resetAfterMs: 30_000,
    random: top,
    now: () => now,
  });
  b.next();
  b.next();
  b.next();
  b.succeeded();
  now += 29_000;
  assert.equal(b.next(), 799, "29 s of health is not enough");
  b.succeeded();
  now += 20_000;
  b.succeeded(); // a later success does not restart the healthy period
  now += 10_000;
  assert.equal(b.next(), 99, "30 s of health starts over");
  now += 60_000;
  assert.equal(b.next(), 199, "time alone, without a success, resets nothing");
});

test("reset() forgets every failure", () => {
  const b = new Backoff({ baseMs: 100, capMs: 1000, floorMs: 0, random: top });
  b.next();
  b.next();
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.next(), 99);
});

test("jittered periods stay within their band; the long back-off is ±20 %", () => {
  assert.equal(
    longBackoffMs(300_000, () => 0),
    240_000,
  );
  assert.equal(
    longBackoffMs(300_000, () => 0.5),
    300_000,
  );
  assert.ok(longBackoffMs(300_000, top) <= 360_000);
  assert.equal(
    jittered(2000, 0, 0.2, () => 0),
    2000,
  );
  assert.equal(jittered(2000, 0, 0.2, top), 2400);
});

test("sleep ends early on abort", async () => {
  const ctl = new AbortController();
  const started = Date.now();
  setTimeout(() => ctl.abort(), 10);
  await sleep(5000, ctl.signal);
  assert.ok(Date.now() - started < 1000);
  await sleep(10, AbortSignal.abort());
});
