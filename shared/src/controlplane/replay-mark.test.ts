import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../log.ts";
import {
  MarkGate,
  markCovers,
  markText,
  parseMark,
  type ReplayMark,
  type ReplayMarkStore,
} from "./replay-mark.ts";

const STREAM = "/v1/agents/a/stream";
const mark = (id: number, epoch = 0): ReplayMark => ({ stream: STREAM, epoch, id: BigInt(id) });

/** A store whose writes resolve when the test says so (or fail the first `failures` times). */
function heldStore(failures = 0) {
  const saved: ReplayMark[] = [];
  const pending: (() => void)[] = [];
  let failed = 0;
  const store: ReplayMarkStore = {
    where: "test store",
    load: async () => saved.at(-1),
    save: (m) =>
      new Promise<void>((resolve, reject) => {
        if (failed < failures) {
          failed++;
          reject(new Error("API server unavailable"));
          return;
        }
        pending.push(() => {
          saved.push(m);
          resolve();
        });
      }),
  };
  return {
    store,
    saved,
    release: () => {
      for (const r of pending.splice(0)) r();
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test("marks round-trip as text; an edited or foreign value reads as none", () => {
  const m = mark(123456789012345, 1_700_000_000_000);
  assert.deepEqual(parseMark(markText(m)), m);
  for (const bad of [
    undefined,
    "",
    "{",
    '{"stream":"/s","epoch":-1,"id":"1"}',
    '{"stream":"/s","epoch":0,"id":"x"}',
  ])
    assert.equal(parseMark(bad), undefined, String(bad));
  assert.ok(markCovers(mark(5), mark(5)));
  assert.ok(markCovers(mark(1, 2), mark(9, 1)), "a newer epoch covers any id of an older one");
  assert.ok(!markCovers(mark(4), mark(5)));
});

test("without a store (nothing pinned) every step runs at once and nothing is written", () => {
  const ran: number[] = [];
  const gate = new MarkGate({
    store: undefined,
    newest: () => mark(1),
    stored: () => undefined,
    signal: new AbortController().signal,
    logger: silentLogger(),
  });
  gate.submit(true, () => ran.push(1));
  gate.submit(false, () => ran.push(2));
  assert.deepEqual(ran, [1, 2]);
  assert.equal(gate.writes, 0);
});

test("a durable step runs only after the mark is stored; steps arriving meanwhile wait, in order, and share the next write", async () => {
  const s = heldStore();
  let newest = mark(10);
  const ran: string[] = [];
  const gate = new MarkGate({
    store: s.store,
    newest: () => newest,
    stored: () => undefined,
    signal: new AbortController().signal,
    logger: silentLogger(),
  });
  gate.submit(true, () => ran.push("snapshot 10"));
  await tick();
  assert.equal(ran.length, 0, "the snapshot waits for its mark");
  for (let id = 11; id <= 30; id++) {
    newest = mark(id);
    gate.submit(id % 5 === 0, () => ran.push(`event ${id}`));
  }
  assert.equal(ran.length, 0);
  s.release();
  await tick();
  assert.deepEqual(s.saved, [mark(10)]);
  assert.deepEqual(ran, ["snapshot 10"]);
  s.release();
  await tick();
  assert.deepEqual(s.saved, [mark(10), mark(30)], "twenty events behind the first write: one more write");
  assert.equal(ran.length, 21);
  assert.equal(ran.at(-1), "event 30");
  // Specs of what is held: no write, at once.
  newest = mark(31);
  gate.submit(false, () => ran.push("event 31"));
  assert.equal(ran.at(-1), "event 31");
  assert.equal(gate.writes, 2);
});

test("a newer epoch is stored even for a step that would not need it; a mark already stored is not written again", async () => {
  const s = heldStore();
  let newest = mark(7, 1);
  const ran: number[] = [];
  const gate = new MarkGate({
    store: s.store,
    newest: () => newest,
    stored: () => mark(7, 1),
    signal: new AbortController().signal,
    logger: silentLogger(),
  });
  gate.submit(true, () => ran.push(7));
  assert.deepEqual(ran, [7], "a snapshot repeating the stored head needs no write");
  newest = mark(2_000, 2);
  gate.submit(false, () => ran.push(2_000));
  await tick();
  assert.deepEqual(ran, [7]);
  s.release();
  await tick();
  assert.deepEqual(ran, [7, 2_000]);
  assert.deepEqual(s.saved, [mark(2_000, 2)]);
});

test("a failed write is retried; nothing runs before it succeeds; an abort drops what waits", async () => {
  const s = heldStore(2);
  const ran: number[] = [];
  const stop = new AbortController();
  let newest = mark(3);
  const gate = new MarkGate({
    store: s.store,
    newest: () => newest,
    stored: () => undefined,
    signal: stop.signal,
    logger: silentLogger(),
  });
  gate.submit(true, () => ran.push(3));
  const until = Date.now() + 10_000;
  while (s.saved.length === 0 && Date.now() < until) {
    s.release();
    await new Promise((r) => setTimeout(r, 20));
  }
  await tick();
  assert.deepEqual(ran, [3]);
  assert.equal(gate.writes, 1);
  gate.submit(true, () => ran.push(3));
  assert.deepEqual(ran, [3, 3], "a mark already stored: at once");
  newest = mark(4);
  gate.submit(true, () => ran.push(4));
  stop.abort();
  s.release();
  await tick();
  assert.deepEqual(ran, [3, 3], "nothing runs after the abort");
});

test("while the mark cannot be stored at most maxHeld events wait; the stream resumes after the last one held and loses or repeats nothing", async () => {
  const total = 600;
  const maxHeld = 50;
  let failing = true;
  let failures = 0;
  const saved: ReplayMark[] = [];
  const store: ReplayMarkStore = {
    where: "test store",
    load: async () => saved.at(-1),
    save: async (m) => {
      if (failing) {
        failures++;
        throw new Error("API server unavailable");
      }
      saved.push(m);
    },
  };
  const warnings: string[] = [];
  const logger = silentLogger();
  logger.warn = ((_: unknown, msg: string) => void warnings.push(msg)) as typeof logger.warn;
  // The stream: accepts event ids in order until told to resume, then sends again after that point.
  let accepted: ReplayMark | undefined;
  let open = true;
  const resumes: bigint[] = [];
  const applied: number[] = [];
  let maxWaiting = 0;
  const gate = new MarkGate({
    store,
    newest: () => accepted,
    stored: () => undefined,
    signal: new AbortController().signal,
    logger,
    maxHeld,
    resumeAfter: (at) => {
      resumes.push(at.id);
      accepted = at;
      open = false;
    },
  });
  const dial = () => {
    open = true;
    for (let id = Number(accepted?.id ?? 0n) + 1; id <= total && open; id++) {
      accepted = mark(id);
      gate.submit(true, () => applied.push(id));
      maxWaiting = Math.max(maxWaiting, id - (applied.at(-1) ?? 0));
    }
  };
  dial();
  assert.equal(open, false, "the stream was told to redial");
  assert.deepEqual(resumes, [BigInt(maxHeld)], "it resumes after the last event held");
  assert.deepEqual(applied, []);
  // Redials while the write still fails: each is cut after its first event, nothing more is held.
  for (let i = 0; i < 3; i++) dial();
  assert.deepEqual(resumes, [50n, 50n, 50n, 50n]);
  assert.ok(maxWaiting <= maxHeld + 1, `at most ${maxHeld} held (+ the one dropped), saw ${maxWaiting}`);
  assert.equal(gate.dropped, 4);
  assert.equal(warnings.filter((w) => w.startsWith("too many stream events held")).length, 1, "logged once");
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise((r) => setTimeout(r, 5));
  };
  await until(() => failures >= 2);
  failing = false;
  await until(() => applied.length === maxHeld);
  assert.deepEqual(saved.at(-1), mark(maxHeld), "the stored mark covers only what was held");
  // The writer is back: each redial sends the rest again after the last event held (a burst beyond
  // maxHeld within one write is cut again); all of it applies, in order, once.
  while (applied.length < total) {
    dial();
    const upTo = Number(accepted?.id ?? 0n);
    await until(() => applied.length === upTo);
  }
  assert.deepEqual(
    applied,
    Array.from({ length: total }, (_, i) => i + 1),
  );
});
