import assert from "node:assert/strict";
import { test } from "node:test";
import { settleAll } from "./settle.ts";

test("settleAll returns every value in input order", async () => {
  assert.deepEqual(
    await settleAll([Promise.resolve(1), 2, new Promise((r) => setTimeout(() => r(3), 5))]),
    [1, 2, 3],
  );
});

test("settleAll rejects with the first failure only after the slower ones have settled", async () => {
  let slowDone = false;
  const slow = new Promise<void>((r) =>
    setTimeout(() => {
      slowDone = true;
      r();
    }, 30),
  );
  await assert.rejects(
    settleAll([slow, Promise.reject(new Error("first")), Promise.reject(new Error("second"))]),
    /first/,
  );
  assert.equal(slowDone, true, "the write still in flight was waited for");
});
