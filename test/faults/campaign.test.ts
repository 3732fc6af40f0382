// The bounded fault campaign (`npm run faults -- --bounded`) in the normal test suite, so CI runs it:
// the real local cluster, real Flink, the agent installed with the chart, and the scenarios marked
// bounded, each followed by all five invariants. Fails naming every scenario that did not pass.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCampaign } from "./campaign.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { scoreLine } from "./scoreboard.ts";

test("the bounded fault campaign: every scenario passes every invariant", {
  timeout: 15 * 60_000,
}, async () => {
  const scenarios = SCENARIOS.filter((s) => s.bounded);
  assert.ok(scenarios.length >= 3, "the bounded subset has scenarios");
  const dir = await mkdtemp(join(tmpdir(), "meridian-faults-test-"));
  try {
    const lines: string[] = [];
    const results = await runCampaign({ dir, scenarios, print: (l) => lines.push(l) });
    assert.equal(results.length, scenarios.length, lines.join("\n"));
    const bad = results.filter((r) => r.verdict !== "PASS");
    assert.deepEqual(bad.map(scoreLine), [], `scoreboard:\n${lines.join("\n")}`);
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
});
