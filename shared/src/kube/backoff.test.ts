import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay, sleep } from "./backoff.ts";

test("delays grow exponentially up to the cap, with full jitter", () => {
  const p = { baseMs: 100, capMs: 1000 };
  assert.equal(
    backoffDelay(0, p, () => 0.999999),
    99,
  );
  assert.equal(
    backoffDelay(2, p, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelay(10, p, () => 0.5),
    500,
  );
  assert.equal(
    backoffDelay(1000, p, () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(3, p, () => 0),
    0,
  );
});

test("sleep ends early on abort", async () => {
  const ctl = new AbortController();
  const started = Date.now();
  setTimeout(() => ctl.abort(), 10);
  await sleep(5000, ctl.signal);
  assert.ok(Date.now() - started < 1000);
  await sleep(10, AbortSignal.abort());
});
