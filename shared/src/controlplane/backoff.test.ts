import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff, longBackoffMs } from "./backoff.ts";

test("the ceiling doubles per failure and stops at the cap", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, minMs: 0, random: () => 0.999999 });
  const delays = Array.from({ length: 7 }, () => b.next());
  assert.deepEqual(delays, [99, 199, 399, 799, 999, 999, 999]);
  assert.equal(b.attempt, 7);
});

test("full jitter spans the whole range down to the floor", () => {
  const low = new Backoff({ initialMs: 100, maxMs: 1000, minMs: 50, random: () => 0 });
  assert.equal(low.next(), 50);
  const mid = new Backoff({ initialMs: 100, maxMs: 1000, minMs: 0, random: () => 0.5 });
  assert.deepEqual([mid.next(), mid.next(), mid.next()], [50, 100, 200]);
});

test("a healthy period resets the counter, a short one does not", () => {
  let now = 0;
  const b = new Backoff({
    initialMs: 100,
    maxMs: 10_000,
    minMs: 0,
    resetAfterMs: 30_000,
    random: () => 0.999999,
    now: () => now,
  });
  b.next();
  b.next();
  b.next();
  b.succeeded();
  now += 29_000;
  assert.equal(b.next(), 799, "29 s of health is not enough");
  b.succeeded();
  now += 30_000;
  assert.equal(b.next(), 99, "30 s of health starts over");
});

test("reset() forgets every failure", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, minMs: 0, random: () => 0.999999 });
  b.next();
  b.next();
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.next(), 99);
});

test("bad bounds are refused with the values named", () => {
  assert.throws(() => new Backoff({ initialMs: 2000, maxMs: 1000 }), /initialMs=2000 maxMs=1000/);
});

test("the long backoff stays within ±20 %", () => {
  assert.equal(
    longBackoffMs(300_000, () => 0),
    240_000,
  );
  assert.equal(
    longBackoffMs(300_000, () => 0.5),
    300_000,
  );
  assert.ok(longBackoffMs(300_000, () => 0.999999) <= 360_000);
});
