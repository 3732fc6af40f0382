import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { reasonOf } from "./errors.ts";
import { requestSignal } from "./request-signal.ts";

test("follows the caller's abort with its reason, also when the caller aborted before", () => {
  const parent = new AbortController();
  const r = requestSignal(parent.signal, 60_000);
  const reason = new Error("lost leadership");
  parent.abort(reason);
  assert.equal(r.signal.aborted, true);
  assert.equal(r.signal.reason, reason);
  r.dispose();
  const late = requestSignal(parent.signal);
  assert.equal(late.signal.reason, reason);
  late.dispose();
});

test("times out with a TimeoutError, which the client reports as Timeout", async () => {
  const r = requestSignal(new AbortController().signal, 10);
  await new Promise((resolve) => r.signal.addEventListener("abort", resolve, { once: true }));
  assert.equal((r.signal.reason as Error).name, "TimeoutError");
  assert.equal(reasonOf(new Error("GET /x failed", { cause: r.signal.reason })), "Timeout");
  r.dispose();
});

test("dispose lets go of the caller's signal and the timer", async () => {
  const parent = new AbortController();
  const r = requestSignal(parent.signal, 20);
  assert.equal(getEventListeners(parent.signal, "abort").length, 1);
  r.dispose();
  assert.equal(getEventListeners(parent.signal, "abort").length, 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  parent.abort();
  assert.equal(r.signal.aborted, false);
});

test("many requests under one long-lived signal leave no memory behind (AbortSignal.any left ~45 MB)", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const heapAfterGc = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return process.memoryUsage().heapUsed;
  };
  const parent = new AbortController().signal;
  const before = await heapAfterGc();
  for (let i = 0; i < 40_000; i++) {
    // As a request does: fetch listens on the signal, the request ends, the signal is disposed.
    const r = requestSignal(parent, 30_000);
    const listener = () => {};
    r.signal.addEventListener("abort", listener);
    if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    r.signal.removeEventListener("abort", listener);
    r.dispose();
  }
  const grownMb = ((await heapAfterGc()) - before) / 2 ** 20;
  assert.ok(grownMb < 2, `the heap grew ${grownMb.toFixed(1)} MB over 40 000 requests`);
  assert.equal(getEventListeners(parent, "abort").length, 0);
});
