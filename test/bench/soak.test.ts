// The bounded soak (issue 15, deliverable 7) in the test suite: 200 workspaces on one agent and 20
// deployments on one workspace agent under 60 s of churn each. It asserts what must hold under any
// load — nothing missed, duplicated, invented or wrongly deleted (the control plane's change log
// against what was applied, reported and received), every change shown in status, status at least
// once per heartbeat, a restart over the unchanged workspaces writes nothing — and not the timing and
// memory goals, which depend on the machine: those are `npm run bench -- soak` (docs/performance.md).
import assert from "node:assert/strict";
import { test } from "node:test";
import { soakAgent } from "./soak/agent-soak.ts";
import type { SoakRun } from "./soak/run.ts";
import { HEARTBEAT_SLACK_MS, type StatusFigures } from "./soak/status-watch.ts";
import { soakWorkspaceAgent } from "./soak/workspace-agent-soak.ts";

const run: SoakRun = {
  churnMs: 60_000,
  perSecond: 2,
  warmupMs: 20_000,
  sampleEveryMs: 5000,
  heartbeatMs: 3000,
  settleTimeoutMs: 180_000,
  // MERIDIAN_SOAK_PROGRESS=1 prints the course as it goes.
  log: process.env.MERIDIAN_SOAK_PROGRESS ? (l) => process.stderr.write(`${l}\n`) : undefined,
};

function assertStatus(s: StatusFigures): void {
  assert.equal(s.pending, 0, "every change shows in a status the control plane received");
  assert.ok(
    s.maxGapMs <= run.heartbeatMs + HEARTBEAT_SLACK_MS,
    `status documents at most a heartbeat apart; the longest gap was ${s.maxGapMs} ms (ended ${s.maxGapEndedAt})`,
  );
}

test("agent, 200 workspaces under 60 s of churn: the change log is what was applied, reported and received; a restart writes nothing", async () => {
  const r = await soakAgent({ ...run, workspaces: 200, restart: true, tokenTtlSeconds: 3600 });
  assert.deepEqual(r.problems, []);
  assert.ok(r.ops >= 60, `churn ran (${r.ops} changes)`);
  assertStatus(r.status);
  assert.equal(r.restart?.writes, 0, "a restart over unchanged workspaces writes nothing");
});

test("workspace agent, 20 deployments under 60 s of churn: the change log is what was applied, reported and received", async () => {
  const r = await soakWorkspaceAgent({ ...run, perSecond: 1, deployments: 20 });
  assert.deepEqual(r.problems, []);
  assert.ok(r.ops >= 30, `churn ran (${r.ops} changes)`);
  assertStatus(r.status);
});
