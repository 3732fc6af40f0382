// The fault campaign: one system (system.ts) with the agent, a workspace and the verification job
// (workload.ts), then each scenario in turn: baseline, fault, convergence, invariants, one scoreboard
// line. A scenario that throws is an ERROR but the invariants are still checked after it, and the
// campaign goes on: a later scenario starts from whatever the earlier one left.
import type { Logger } from "@meridian/shared/log";
import { silentLogger } from "@meridian/shared/log";
import type { Credential } from "../e2e/logs.ts";
import { workspaceToken } from "../e2e/observe.ts";
import { agentRestarts, crashLoops, secretsInLogs, waitConverged } from "./checks.ts";
import { checkOutputDir, type ExactlyOnceReport } from "./exactly-once.ts";
import { compareInventory, takeInventory } from "./inventory.ts";
import { type Scenario, scenarioContext, sleep } from "./scenario.ts";
import { type InvariantResult, type ScenarioResult, scoreLine } from "./scoreboard.ts";
import { type CampaignSystem, CP_PROXY_AUTH, startCampaignSystem } from "./system.ts";
import {
  CUSTOMER_OBJECTS,
  createWorkload,
  freshVerifyJob,
  installAgent,
  VERIFY_PARAMS,
  verifyOutputDir,
  WS_NS,
} from "./workload.ts";

export interface CampaignOptions {
  dir: string;
  scenarios: Scenario[];
  /** Called with each scoreboard line as it is decided, and with progress lines. */
  print: (line: string) => void;
  logger?: Logger;
  /** Longest wait for convergence after a fault; default 240 s. */
  convergenceTimeoutMs?: number;
  /** Aborting stops the system at once (every pod process with it), then calls `onInterrupted`. */
  signal?: AbortSignal;
  onInterrupted?: () => void;
}

const SCENARIO_TIMEOUT_MS = 300_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The tokens the harness knows: the agent's, and every workspace token seen in its Secret. */
class Tokens {
  readonly #values = new Map<string, string>();
  constructor(agentToken: string) {
    this.#values.set(agentToken, "agent token");
  }
  add(name: string, value: string): void {
    if (!this.#values.has(value)) this.#values.set(value, name);
  }
  async harvest(sys: CampaignSystem): Promise<void> {
    const t = await workspaceToken(sys.cluster, WS_NS).catch(() => undefined);
    if (t && !this.#values.has(t)) this.#values.set(t, `workspace token #${this.#values.size}`);
  }
  list(): Credential[] {
    return [...this.#values].map(([value, name]) => ({ name, value }));
  }
}

/** How long (a) waits for the job's output to move past where it stood when the fault began. */
const PROGRESS_WINDOW_MS = 150_000;

/** (a): nothing new wrong since the baseline, and the job made progress after the fault. */
async function exactlyOnce(
  sys: CampaignSystem,
  base: ExactlyOnceReport,
  maxAtEnd: number,
): Promise<InvariantResult> {
  const dir = verifyOutputDir(sys);
  let r = await checkOutputDir(dir, VERIFY_PARAMS, false);
  // Progress is the invariant, not its speed (recovery times are measured by `npm run bench --
  // recovery`): a TaskManager killed on a loaded 2-core machine takes Flink's heartbeat to notice, a
  // JVM start and a job restart, which together have taken just over 60 s in CI.
  for (let i = 0; i < PROGRESS_WINDOW_MS / 500 && r.max <= maxAtEnd; i++) {
    await sleep(500);
    r = await checkOutputDir(dir, VERIFY_PARAMS, false);
  }
  const problems: string[] = [];
  if (r.wrong.length > base.wrong.length)
    problems.push(`${r.wrong.length - base.wrong.length} wrong sums: ${r.wrong.at(-1)}`);
  if (r.duplicates > base.duplicates)
    problems.push(`${r.duplicates - base.duplicates} lines committed twice`);
  if (r.missing > base.missing) problems.push(`${r.missing - base.missing} numbers lost`);
  if (r.max <= maxAtEnd)
    problems.push(`no progress within ${PROGRESS_WINDOW_MS / 1000} s (stuck at ${r.max})`);
  return problems.length
    ? { ok: false, detail: problems.join("; ") }
    : { ok: true, detail: `exact up to ${r.max} (+${r.max - base.max})` };
}

async function runScenario(
  sys: CampaignSystem,
  s: Scenario,
  tokens: Tokens,
  convergenceTimeoutMs: number,
): Promise<ScenarioResult> {
  const started = Date.now();
  const notes: string[] = [];
  const killed = new Map<string, number>();
  const ctx = scenarioContext(sys, notes, killed, (name, value) => tokens.add(name, value));
  let error: string | undefined;
  try {
    await withTimeout(s.prepare?.(ctx) ?? Promise.resolve(), SCENARIO_TIMEOUT_MS, `${s.name} prepare`);
  } catch (err) {
    return {
      name: s.name,
      verdict: "ERROR",
      error: `prepare: ${(err as Error).message}`,
      notes,
      durationMs: Date.now() - started,
    };
  }
  await tokens.harvest(sys);
  const inventory = await takeInventory(sys.cluster, CUSTOMER_OBJECTS);
  const restarts = await agentRestarts(sys);
  const output = await checkOutputDir(verifyOutputDir(sys), VERIFY_PARAMS, false);
  try {
    await withTimeout(s.run(ctx), SCENARIO_TIMEOUT_MS, s.name);
  } catch (err) {
    error = (err as Error).message;
  }
  const faultEnd = Date.now();
  const maxAtEnd = (await checkOutputDir(verifyOutputDir(sys), VERIFY_PARAMS, false)).max;
  const conv = await waitConverged(sys, faultEnd, convergenceTimeoutMs);
  const convergence: InvariantResult =
    "ms" in conv
      ? { ok: true, detail: `${(conv.ms / 1000).toFixed(1)} s` }
      : { ok: false, detail: conv.timedOut };
  let outcome: string | undefined;
  try {
    outcome = await withTimeout(
      s.outcome?.(ctx) ?? Promise.resolve(undefined),
      SCENARIO_TIMEOUT_MS,
      `${s.name} outcome`,
    );
  } catch (err) {
    outcome = (err as Error).message;
  }
  const a = await exactlyOnce(sys, output, maxAtEnd);
  const diff = compareInventory(inventory, await takeInventory(sys.cluster, CUSTOMER_OBJECTS), (k) =>
    s.replaces ? s.replaces.test(k) : false,
  );
  await tokens.harvest(sys);
  const leaks = await secretsInLogs(sys, tokens.list());
  const loops = crashLoops(restarts, await agentRestarts(sys), killed);
  const invariants = {
    a,
    b: { ok: diff.ok, detail: diff.summary },
    c: convergence,
    d: leaks.length
      ? { ok: false, detail: leaks.join("; ") }
      : { ok: true, detail: `${tokens.list().length} tokens absent` },
    e: loops.length ? { ok: false, detail: loops.join("; ") } : { ok: true, detail: "no crash loop" },
  };
  if (outcome) notes.push(`outcome: ${outcome}`);
  const allOk = Object.values(invariants).every((i) => i.ok) && !outcome && !error;
  return {
    name: s.name,
    verdict: error ? "ERROR" : allOk ? "PASS" : "FAIL",
    error,
    convergenceMs: "ms" in conv ? conv.ms : undefined,
    invariants,
    notes,
    durationMs: Date.now() - started,
  };
}

/** Starts the system, runs every scenario, stops the system; resolves with every result. */
export async function runCampaign(o: CampaignOptions): Promise<ScenarioResult[]> {
  const logger = o.logger ?? silentLogger();
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  o.print(`# starting the system in ${o.dir}`);
  const sys = await startCampaignSystem(o.dir, logger);
  const results: ScenarioResult[] = [];
  const onAbort = () => void sys.stop().finally(() => o.onInterrupted?.());
  o.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const agentToken = await installAgent(sys);
    o.print(`# agent installed (${since()})`);
    await createWorkload(sys);
    o.print(`# workspace and verification job running (${since()})`);
    const tokens = new Tokens(agentToken);
    tokens.add("control-plane proxy password", CP_PROXY_AUTH.password);
    for (const s of o.scenarios) {
      if (o.signal?.aborted) throw new Error("the campaign was interrupted");
      const before: string[] = [];
      if (results.at(-1)?.invariants?.a.ok === false) {
        await freshVerifyJob(sys).then(
          () => before.push("verification job started afresh after the previous scenario"),
          (err: Error) => before.push(`starting the verification job afresh failed: ${err.message}`),
        );
      }
      const r = await runScenario(sys, s, tokens, o.convergenceTimeoutMs ?? 240_000);
      r.notes.unshift(...before);
      results.push(r);
      o.print(scoreLine(r));
    }
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    await sys.stop();
  }
  return results;
}
