// `npm run bench -- soak [--minutes 10] [--workspaces 1000] [--deployments 50] [...]`: load and soak
// (issue 15, deliverable 7). The agent with N workspaces and the workspace agent with M deployments,
// each a real process on the local cluster with the reference control plane, under steady churn
// (creates, updates, deletes) for the given minutes; then, for the agent, a restart over the
// unchanged workspaces. Reports and checks:
//   correctness  the control plane's change log against what was applied and reported: every event
//                taken in once, none missed; each item at its last generation, deleted ones gone,
//                nothing deleted that the log did not delete, no generation moving back
//   status       the longest gap between status documents (≤ heartbeat + slack), change → status
//   memory       resident and heap after the warm-up (first 20 % of the churn): median, max, slope
//   goals        agent ≤ 150 MB resident under churn, memory flat (slope ≤ 0.5 MB/min), restart
//                ≤ 3 s with zero writes; workspace agent ≤ 100 MB, flat
// Exits non-zero when a check fails or a goal is missed. Figures go to docs/performance.md, "Soak";
// the design is in docs/testing.md. The bounded form runs as test/bench/soak.test.ts.
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { report } from "./lib/stats.ts";
import { soakAgent } from "./soak/agent-soak.ts";
import { formatMemory } from "./soak/memory.ts";
import type { SoakResult, SoakRun } from "./soak/run.ts";
import { formatStatus, HEARTBEAT_SLACK_MS } from "./soak/status-watch.ts";
import { soakWorkspaceAgent } from "./soak/workspace-agent-soak.ts";

const FLAT_MB_PER_MIN = 0.5;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      minutes: { type: "string", default: "10" },
      workspaces: { type: "string", default: "1000" },
      deployments: { type: "string", default: "50" },
      rate: { type: "string", default: "2" },
      "deployment-rate": { type: "string", default: "1" },
      only: { type: "string" },
      "no-restart": { type: "boolean", default: false },
      "token-ttl-seconds": { type: "string", default: "3600" },
      "settle-seconds": { type: "string", default: "600" },
    },
  });
  const num = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${values[name]}`);
    return n;
  };
  if (values.only !== undefined && !["agent", "workspace-agent"].includes(values.only))
    throw new Error(`--only must be agent or workspace-agent, got ${values.only}`);
  const churnMs = num("minutes") * 60_000;
  const base = {
    churnMs,
    warmupMs: churnMs * 0.2,
    sampleEveryMs: 5000,
    settleTimeoutMs: num("settle-seconds") * 1000,
    log: (l: string) => report(`    ${new Date().toISOString().slice(11, 19)} ${l}`),
  } satisfies Partial<SoakRun>;
  const started = Date.now();
  report(
    `soak: ${values.minutes} min of churn; load average at start ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  let failed = false;
  const fail: Verdict = (ok) => {
    failed ||= !ok;
    return ok ? "" : "  ← MISSED";
  };

  if (values.only !== "workspace-agent") {
    const heartbeatMs = 10_000;
    const r = await soakAgent({
      ...base,
      heartbeatMs,
      perSecond: num("rate"),
      workspaces: num("workspaces"),
      restart: !values["no-restart"],
      tokenTtlSeconds: num("token-ttl-seconds"),
    });
    reportCourse(`agent, ${values.workspaces} workspaces`, r, { heartbeatMs, maxRssMb: 150 }, fail);
    report(
      `  stream: ${r.sessions} session(s) (snapshots received), ${r.reconnects} reconnects, leadership lost ${r.leadershipLost} times`,
    );
    if (r.restart)
      report(
        `  restart over ${r.restart.workspaces} unchanged workspaces (after ${r.restart.namespacesGoneSeconds.toFixed(0)} s for deleted namespaces to go): ` +
          `converged in ${(r.restart.convergeMs / 1000).toFixed(2)} s, ${r.restart.writes} writes (goals ≤ 3 s, 0; load average ${r.restart.load.toFixed(1)})` +
          fail(r.restart.convergeMs <= 3000 && r.restart.writes === 0),
      );
  }
  if (values.only !== "agent") {
    const heartbeatMs = 5000;
    const r = await soakWorkspaceAgent({
      ...base,
      heartbeatMs,
      perSecond: num("deployment-rate"),
      deployments: num("deployments"),
    });
    reportCourse(
      `workspace agent, ${values.deployments} deployments`,
      r,
      { heartbeatMs, maxRssMb: 100 },
      fail,
    );
  }
  report(
    `total ${((Date.now() - started) / 60_000).toFixed(1)} min; load average at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  if (failed) {
    report("a check failed or a goal was missed");
    process.exitCode = 1;
  }
}

type Verdict = (ok: boolean) => string;

/** The course's figures, its problems and its goals, each goal followed by its verdict. */
function reportCourse(
  title: string,
  r: SoakResult,
  goals: { heartbeatMs: number; maxRssMb: number },
  fail: Verdict,
): void {
  report(
    `${title}: filled in ${r.fillSeconds.toFixed(0)} s; ${r.ops} changes in ${r.churnSeconds.toFixed(0)} s ` +
      `(${(r.ops / r.churnSeconds).toFixed(2)}/s); settled ${r.settleSeconds.toFixed(1)} s after`,
  );
  report(
    `  correctness (change log against applied, reported and received): ${r.problems.length ? `${r.problems.length} PROBLEMS` : "all held"}`,
  );
  for (const p of r.problems.slice(0, 50)) report(`    - ${p}`);
  fail(r.problems.length === 0);
  report(`  memory: ${formatMemory(r.memory)}`);
  report(
    `    resident max ≤ ${goals.maxRssMb} MB${fail(r.memory.rssMaxMb <= goals.maxRssMb)}; ` +
      `slope ≤ ${FLAT_MB_PER_MIN} MB/min${fail(r.memory.rssSlopeMbPerMin <= FLAT_MB_PER_MIN)}`,
  );
  const s = r.status;
  report(`  status: ${formatStatus(s, goals.heartbeatMs)}`);
  report(
    `    longest gap ≤ heartbeat + ${HEARTBEAT_SLACK_MS / 1000} s${fail(s.maxGapMs <= goals.heartbeatMs + HEARTBEAT_SLACK_MS)}; ` +
      `every change shown${fail(s.pending === 0)}`,
  );
}
