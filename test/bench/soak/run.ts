// What both soaks (the agent's and the workspace agent's) share: the run's shape, and its course
// once the agent runs and is watched — fill, churn at a steady rate, wait for the final state, an
// idle stretch that only the heartbeat carries — with the figures and problems it ends with.
import { setTimeout as sleep } from "node:timers/promises";
import type { Churn } from "./churn.ts";
import { checkDriver } from "./compare.ts";
import type { Expected } from "./expected.ts";
import type { MemorySampler, MemorySummary } from "./memory.ts";
import type { StatusFigures, StatusWatch } from "./status-watch.ts";

export interface SoakRun {
  /** How long the churn runs. */
  churnMs: number;
  /** Churn operations a second (create, update, delete in rotation). */
  perSecond: number;
  /** Memory samples before this much of the churn has passed are not fitted. */
  warmupMs: number;
  sampleEveryMs: number;
  /** The agent's status heartbeat (it re-sends status at least this often). */
  heartbeatMs: number;
  /** How long the agent may take after the churn to reach the final state. */
  settleTimeoutMs: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface SoakResult {
  /** Correctness problems found (none: every check held). */
  problems: string[];
  memory: MemorySummary;
  status: StatusFigures;
  fillSeconds: number;
  settleSeconds: number;
  ops: number;
  churnSeconds: number;
}

export interface SoakCourse<B> {
  /** "agent", "workspace agent": for progress lines. */
  what: string;
  churn: Churn<B>;
  fill: { count: number; concurrency: number };
  watch: StatusWatch;
  memory: MemorySampler;
  /** The problems with the state now (none: it matches the control plane's log). */
  check(): Promise<string[]>;
  /** The control plane's log now. */
  expected(): Expected;
}

export async function runCourse<B>(o: SoakRun, c: SoakCourse<B>): Promise<SoakResult> {
  const log = o.log ?? (() => {});
  const fillStart = Date.now();
  await c.churn.fill(c.fill.count, c.fill.concurrency);
  // The fill is checked like the end: the same problems, with time in proportion to its size.
  const unfilled = await settle(c.check, Math.max(o.settleTimeoutMs, c.fill.count * FILL_MS_PER_ITEM));
  const fillSeconds = (Date.now() - fillStart) / 1000;
  if (unfilled.length) {
    c.memory.stop();
    c.watch.stop();
    const problems = unfilled.map((p) => `after the fill: ${p}`);
    const figures = course(c, fillStart, fillStart);
    return { ...figures, problems, fillSeconds, settleSeconds: 0, churnSeconds: 0 };
  }
  log(`${c.what}: ${c.fill.count} items in place after ${fillSeconds.toFixed(0)} s; churning`);

  const churnStart = Date.now();
  c.watch.countGapsFrom(churnStart);
  c.churn.onOp = (op) => c.watch.expect(op);
  await c.churn.run(o.churnMs, o.perSecond);
  const churnEnd = Date.now();
  log(
    `${c.what}: ${c.churn.ops.length} changes in ${((churnEnd - churnStart) / 1000).toFixed(0)} s; settling`,
  );

  let problems = await settle(c.check, o.settleTimeoutMs);
  const settleSeconds = (Date.now() - churnEnd) / 1000;
  // An idle stretch after the churn, so that the heartbeat alone has to carry status.
  await sleep(2 * o.heartbeatMs + 1000);
  await c.watch.poll();
  c.memory.stop();
  c.watch.stop();
  problems = [...problems, ...checkDriver(c.expected(), c.churn.live.keys())];
  const churnSeconds = (churnEnd - churnStart) / 1000;
  const figures = course(c, churnStart + o.warmupMs, churnEnd);
  return { ...figures, problems, fillSeconds, settleSeconds, churnSeconds };
}

/** Time a fill may take per item on a busy two-core machine (1 000 workspaces: 10 minutes). */
const FILL_MS_PER_ITEM = 600;

/** The measured figures: memory fitted from `from` to `to`, status, operations. */
function course<B>(c: SoakCourse<B>, from: number, to: number) {
  return { memory: c.memory.summary(from, to), status: c.watch.figures(), ops: c.churn.ops.length };
}

/**
 * Runs `check` every two seconds until it finds no problem or `timeoutMs` passes; the last
 * problems found (none: settled). A check that throws counts as a problem.
 */
export async function settle(check: () => Promise<string[]>, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const problems = await check().catch((err: Error) => [`the check failed: ${err.message}`]);
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await sleep(2000);
  }
}
