// The exactly-once checker on made-up output: it accepts exact output in any order and split over
// files, and names each way output can be wrong (a double count, a loss, a replayed line, a gap).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { checkLines, checkOutputDir, expectedSum } from "./exactly-once.ts";

const P = { count: 200, keys: 7 };

/** What the job commits for 0..n-1: `key,i,sum` with the running sum per key. */
function exactLines(n: number, keys: number): string[] {
  const sums = new Map<number, number>();
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % keys;
    const s = (sums.get(k) ?? 0) + i;
    sums.set(k, s);
    out.push(`${k},${i},${s}`);
  }
  return out;
}

test("the closed form agrees with a running sum", () => {
  const lines = exactLines(500, 13);
  for (const l of lines) {
    const [, i, s] = l.split(",").map(Number) as [number, number, number];
    assert.equal(expectedSum(i, 13), s, l);
  }
});

test("exact output passes, in any order, complete or not", () => {
  const lines = exactLines(P.count, P.keys).reverse();
  const r = checkLines(lines, P, true);
  assert.equal(r.ok, true, r.summary);
  assert.equal(r.distinct, P.count);
  const partial = checkLines(lines.slice(-50), P, false);
  assert.equal(partial.ok, true, partial.summary);
});

test("a number counted twice makes its key's later sums too large", () => {
  const sums = new Map<number, number>();
  const lines: string[] = [];
  for (let i = 0; i < P.count; i++) {
    const k = i % P.keys;
    const s = (sums.get(k) ?? 0) + i + (i === 30 ? 30 : 0); // 30 added twice
    sums.set(k, s);
    lines.push(`${k},${i},${s}`);
  }
  const r = checkLines(lines, P, true);
  assert.equal(r.ok, false);
  assert.match(r.wrong[0] ?? "", /counted twice: off by 30/);
  assert.equal(r.wrong.length, Math.ceil((P.count - 30) / P.keys));
});

test("a lost number makes its key's later sums too small", () => {
  const lines = exactLines(P.count, P.keys).map((l) => {
    const [k, i, s] = l.split(",").map(Number) as [number, number, number];
    return k === 3 && i >= 59 ? `${k},${i},${s - 59}` : l;
  });
  const r = checkLines(lines, P, true);
  assert.equal(r.ok, false);
  assert.match(r.wrong[0] ?? "", /lost: off by -59/);
});

test("a replayed line, a gap and garbage are each named", () => {
  const lines = exactLines(P.count, P.keys);
  const replayed = checkLines([...lines, lines[10]!], P, true);
  assert.equal(replayed.ok, false);
  assert.equal(replayed.duplicates, 1);
  assert.match(replayed.summary, /1 lines committed twice/);
  const gap = checkLines(lines.slice(1), P, true);
  assert.equal(gap.ok, false);
  assert.equal(gap.missing, 1);
  assert.equal(
    checkLines(lines.slice(0, -1), P, false).ok,
    true,
    "an uncommitted tail is fine while the job runs",
  );
  const hole = checkLines([...lines.slice(0, 50), ...lines.slice(51, 80)], P, false);
  assert.equal(hole.ok, false, "a gap below the highest committed number is a loss");
  assert.equal(hole.missing, 1);
  assert.equal(hole.max, 79);
  const garbage = checkLines([...lines, "3,x,9"], P, true);
  assert.match(garbage.wrong[0] ?? "", /unparsable/);
  const outOfRange = checkLines([...lines, "2,200,0"], P, true);
  assert.match(outOfRange.wrong[0] ?? "", /out of range/);
});

test("a count whose sums overflow exact integers is refused", () => {
  assert.throws(() => checkLines([], { count: 1e9, keys: 1 }, false), /overflows exact sums/);
});

test("only committed part files are read, not in-progress ones", async () => {
  const dir = await mkdtemp(join(tmpdir(), "meridian-eo-"));
  try {
    const lines = exactLines(P.count, P.keys);
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "sums-a-0.csv"), `${lines.slice(0, 120).join("\n")}\n`);
    await writeFile(join(dir, "sub", "sums-b-0.csv"), `${lines.slice(120).join("\n")}\n`);
    await writeFile(join(dir, ".sums-a-1.csv.inprogress.x"), "1,1,999\n");
    const r = await checkOutputDir(dir, P, true);
    assert.equal(r.ok, true, r.summary);
    assert.equal((await checkOutputDir(join(dir, "none"), P, false)).lines, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
