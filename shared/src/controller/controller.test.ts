import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeApiError } from "../kube/errors.ts";
import { createLogger } from "../log.ts";
import { Controller, type ControllerOptions, type RunRecord } from "./controller.ts";
import { type Reconcile, RetryableError, TerminalError } from "./result.ts";

function setup(reconcile: Reconcile, extra: Partial<ControllerOptions> = {}) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const runs: RunRecord[] = [];
  const c = new Controller({
    reconcile,
    logger: createLogger({ component: "test", destination, level: "debug" }),
    keyField: "workspace",
    message: "reconciled",
    backoff: { baseMs: 10, capMs: 40 },
    onRun: (r) => runs.push(r),
    ...extra,
  });
  c.start();
  return { c, lines, runs };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(5);
  }
}

test("nothing runs before start(); a run logs its outcome, writes and reconcile id", async () => {
  const seen: string[] = [];
  const { c, lines, runs } = setup(async (key, ctx) => {
    seen.push(`${key}:${ctx.reconcileId}`);
    return { outcome: "applied", writes: 2 };
  });
  const idle = new Controller({
    reconcile: async () => ({ outcome: "x", writes: 0 }),
    logger: createLogger({ component: "t", level: "silent" }),
    keyField: "k",
    message: "m",
  });
  idle.enqueue("a");
  await idle.idle();
  c.enqueue("alpha");
  await c.idle();
  assert.equal(seen.length, 1);
  assert.equal(runs[0]?.outcome, "applied");
  assert.equal(runs[0]?.writes, 2);
  const line = lines.find((l) => l.msg === "reconciled");
  assert.equal(line?.workspace, "alpha");
  assert.equal(line?.outcome, "applied");
  assert.equal(line?.writes, 2);
  assert.match(String(line?.reconcileId), /^[0-9a-f]{8}$/);
  await c.stop();
});

test("a retryable failure backs off with jitter and counts failures until a success resets them", async () => {
  let calls = 0;
  const failuresSeen: number[] = [];
  const { c, runs } = setup(async (_key, ctx) => {
    failuresSeen.push(ctx.failures);
    if (++calls < 4) throw new RetryableError("NotYet", "namespace still terminating");
    return { outcome: "applied", writes: 1 };
  });
  c.enqueue("a");
  await until(() => calls === 4);
  await c.idle();
  assert.deepEqual(failuresSeen, [0, 1, 2, 3]);
  assert.equal(c.failures("a"), 0);
  assert.deepEqual(
    runs.map((r) => r.outcome),
    ["failed", "failed", "failed", "applied"],
  );
  assert.equal(runs[0]?.error?.reason, "NotYet");
  await c.stop();
});

test("a terminal error is reported and not retried; the next trigger runs again", async () => {
  let calls = 0;
  const { c, runs, lines } = setup(async () => {
    calls++;
    throw new TerminalError("Invalid", "the API server rejected the object as invalid");
  });
  c.enqueue("a");
  await c.idle();
  await sleep(120);
  assert.equal(calls, 1, "not retried");
  assert.equal(runs[0]?.outcome, "terminal");
  assert.equal(runs[0]?.error?.terminal, true);
  assert.ok(lines.some((l) => String(l.msg).includes("not retrying")));
  c.enqueue("a");
  await c.idle();
  assert.equal(calls, 2);
  await c.stop();
});

test("API answers that cannot succeed unchanged (422) are terminal", async () => {
  let calls = 0;
  const { c, runs } = setup(async () => {
    calls++;
    throw new KubeApiError("PATCH", "/api/v1/x", 422, { reason: "Invalid" });
  });
  c.enqueue("a");
  await c.idle();
  await sleep(100);
  assert.equal(calls, 1);
  assert.equal(runs[0]?.error?.reason, "Invalid");
  await c.stop();
});

test("requeueAfter runs the key again; the earliest of several timers wins; stop() clears them", async () => {
  let calls = 0;
  const { c } = setup(async () => {
    calls++;
    return {
      outcome: calls === 1 ? "applied" : "unchanged",
      writes: 0,
      requeueAfterMs: calls === 1 ? 30 : undefined,
    };
  });
  c.enqueueAfter("a", 10_000);
  c.enqueue("a");
  await until(() => calls === 2, 1000);
  c.enqueueAfter("a", 20);
  await c.stop();
  await sleep(60);
  assert.equal(calls, 2, "no run after stop()");
});

test("quiet outcomes are not logged; a failing observer does not break the controller", async () => {
  const { c, lines } = setup(async () => ({ outcome: "ignored", writes: 0 }), {
    quietOutcomes: ["ignored"],
    onRun: () => {
      throw new Error("observer broke");
    },
  });
  c.enqueue("a");
  await c.idle();
  assert.ok(!lines.some((l) => l.msg === "reconciled"));
  assert.ok(lines.some((l) => l.msg === "run observer failed"));
  await c.stop();
});

test("one key never runs twice at once; the signal aborts on stop()", async () => {
  let active = 0;
  let max = 0;
  let aborted = false;
  const { c } = setup(async (_k, ctx) => {
    active++;
    max = Math.max(max, active);
    await sleep(20);
    aborted ||= ctx.signal.aborted;
    active--;
    return { outcome: "applied", writes: 0 };
  });
  c.enqueue("a");
  await sleep(2);
  c.enqueue("a");
  c.enqueue("a");
  await c.idle();
  assert.equal(max, 1);
  c.enqueue("a");
  await sleep(2);
  await c.stop();
  assert.equal(aborted, true);
});

test("a failed run's line carries the run's outcome, writes and duration as well", async () => {
  const { c, lines } = setup(async () => {
    throw new RetryableError("NotYet", "namespace still terminating");
  });
  c.enqueue("a");
  await until(() => lines.some((l) => l.msg === "reconcile failed; retrying"));
  const line = lines.find((l) => l.msg === "reconcile failed; retrying");
  assert.equal(line?.outcome, "failed");
  assert.equal(line?.writes, 0);
  assert.equal(typeof line?.durationMs, "number");
  assert.equal(line?.workspace, "a");
  await c.stop();
});

test("stop({ drainMs }) lets a run in progress finish unaborted, cancels waiting ones and queues nothing new", async () => {
  const seen: { key: string; aborted: boolean }[] = [];
  const { c } = setup(
    async (key, ctx) => {
      await sleep(40);
      seen.push({ key, aborted: ctx.signal.aborted });
      return { outcome: "applied", writes: 1, requeueAfterMs: 0 };
    },
    { concurrency: 1 },
  );
  c.enqueue("a");
  c.enqueue("b");
  await sleep(5);
  const stopped = c.stop({ drainMs: 1000 });
  c.enqueue("c");
  await stopped;
  assert.deepEqual(seen, [{ key: "a", aborted: false }], "a finished, b never started, c never queued");
  assert.equal(c.signal.aborted, true);
  await sleep(30);
  assert.equal(seen.length, 1, "the requeue asked for while draining set no timer");
});

test("stop({ drainMs }) aborts a run still going when the drain time is over", async () => {
  let aborted = false;
  const { c } = setup(async (_k, ctx) => {
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    aborted = ctx.signal.aborted;
    return { outcome: "applied", writes: 0 };
  });
  c.enqueue("a");
  await sleep(5);
  const started = Date.now();
  await c.stop({ drainMs: 50 });
  assert.equal(aborted, true);
  assert.ok(Date.now() - started < 1000);
});
