// The catalogue's hostile workspace specs (test/hostile/catalogue/workspaces.ts), each sent down the
// agent stream of a real agent on the real local cluster by the hostile control plane: refused by the
// schema or the local policy with its named reason in the status upward (rejectedEvents, or the
// workspace's PolicyViolation, OwnershipConflict or SpecRejected condition) and in a log line; deletes
// of namespaces that are not Meridian's leave them alone. Nothing in the cluster changes — the
// customer's namespace and another workspace's included — the agent stays up on the same stream,
// good workspaces created after them converge, and no token reaches a log line.
import { after, before, test } from "node:test";
import { type AgentTarget, startAgentTarget } from "./catalogue/agent-target.ts";
import { workspaces } from "./catalogue/index.ts";
import { runStreamInput } from "./catalogue/stream-runner.ts";

let t: AgentTarget;
before(async () => {
  t = await startAgentTarget();
});
after(() => t?.stop());

const BATCH = 20;
for (let i = 0; i < workspaces.length; i += BATCH) {
  const batch = workspaces.slice(i, i + BATCH);
  test(`workspaces ${i + 1}-${i + batch.length}: refused as documented, nothing changes; a good workspace then converges`, async (tc) => {
    for (const input of batch) await tc.test(input.name, () => runStreamInput(t, input, t.baseline));
    await t.converge(`good-${i / BATCH + 1}`);
  });
}

test("no token in any log line", () => t.assertNoSecretLogged());
