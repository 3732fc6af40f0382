// Invariant (a), "no job state lost": reads what the verification job (verify-job/ExactlyOnceJob.java)
// committed and checks it against the closed form. The job sums the numbers 0..count-1 per key
// (key = i mod keys) in keyed state and commits one line `key,i,sum` per number through an
// exactly-once file sink. A number counted twice makes every later sum of its key too large, a lost
// one too small; so every committed line is checked, not only the last one per key. A line committed
// twice with the same value is a replay of committed output (the job went back to an older restore
// point than its last checkpoint): state stayed exact, output did not.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface ExactlyOnceParams {
  /** Numbers the source emits: 0..count-1. */
  count: number;
  /** Keys: i mod keys. */
  keys: number;
}

export interface ExactlyOnceReport {
  /** Committed lines read. */
  lines: number;
  /** Distinct numbers with a committed line. */
  distinct: number;
  /** Lines committed more than once (same number, same sum). */
  duplicates: number;
  /** Lines whose sum is not the closed form (double count or loss in state), or that do not parse. */
  wrong: string[];
  /**
   * Numbers without a committed line: below the highest committed number (the source emits in order
   * and the sink commits in order, so committed output is a prefix), or below `count` when `complete`.
   */
  missing: number;
  /** The highest committed number, -1 when nothing is committed. */
  max: number;
  /** True when the output so far is exact: no wrong line, no duplicate, no gap. */
  ok: boolean;
  /** One line for the scoreboard. */
  summary: string;
}

/** The sum of every j <= i with j ≡ key (mod keys), j >= 0. */
export function expectedSum(i: number, keys: number): number {
  const key = i % keys;
  const m = Math.floor((i - key) / keys);
  return (m + 1) * key + (keys * m * (m + 1)) / 2;
}

/** Checks output lines; `complete` demands a line for every number (the job has finished). */
export function checkLines(
  lines: Iterable<string>,
  p: ExactlyOnceParams,
  complete: boolean,
): ExactlyOnceReport {
  if (!Number.isSafeInteger(expectedSum(p.count - 1, p.keys))) {
    throw new Error(`count ${p.count} with ${p.keys} keys overflows exact sums: use a smaller count`);
  }
  const seen = new Map<number, number>();
  const wrong: string[] = [];
  let read = 0;
  let duplicates = 0;
  for (const line of lines) {
    if (line === "") continue;
    read++;
    const m = /^(\d+),(\d+),(\d+)$/.exec(line);
    if (!m) {
      wrong.push(`unparsable line ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    const [key, i, sum] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (i >= p.count || key !== i % p.keys) {
      wrong.push(`line ${line}: number or key out of range`);
      continue;
    }
    const want = expectedSum(i, p.keys);
    if (sum !== want) {
      const how = sum > want ? "counted twice" : "lost";
      wrong.push(`line ${line}: sum ${sum}, closed form ${want} (${how}: off by ${sum - want})`);
    }
    const before = seen.get(i);
    if (before !== undefined) duplicates++;
    seen.set(i, sum);
  }
  let max = -1;
  for (const i of seen.keys()) if (i > max) max = i;
  const missing = (complete ? p.count : max + 1) - seen.size;
  const ok = wrong.length === 0 && duplicates === 0 && missing === 0;
  const parts = [`${seen.size}/${p.count} numbers`];
  if (wrong.length > 0) parts.push(`${wrong.length} wrong sums (first: ${wrong[0]})`);
  if (duplicates > 0) parts.push(`${duplicates} lines committed twice`);
  if (missing > 0) parts.push(`${missing} numbers never committed`);
  return {
    lines: read,
    distinct: seen.size,
    duplicates,
    wrong,
    missing,
    max,
    ok,
    summary: `${ok ? "exact" : "NOT exact"}: ${parts.join(", ")}`,
  };
}

/** Committed part files of the sink: visible files (in-progress ones start with a dot). */
export async function committedFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && !e.name.startsWith(".")) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

/** Reads every committed file under `dir` and checks it. */
export async function checkOutputDir(
  dir: string,
  p: ExactlyOnceParams,
  complete: boolean,
): Promise<ExactlyOnceReport> {
  const files = await committedFiles(dir);
  const lines: string[] = [];
  for (const f of files) lines.push(...(await readFile(f, "utf8")).split("\n"));
  return checkLines(lines, p, complete);
}
