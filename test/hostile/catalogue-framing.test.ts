// The catalogue's framing, event-id and JSON inputs (test/hostile/catalogue/), each sent down the
// agent stream of a real agent on the real local cluster by the hostile control plane. Each is
// refused with its named reason in the status upward and a log line (or, where the WHATWG rules say
// the bytes are no event, ignored), the agent stays up on the same stream, nothing in the cluster
// changes, a good workspace created after each class converges, and no token reaches a log line.
import { after, before, test } from "node:test";
import { type AgentTarget, startAgentTarget } from "./catalogue/agent-target.ts";
import { framing, ids, json } from "./catalogue/index.ts";
import { runStreamInput } from "./catalogue/stream-runner.ts";

let t: AgentTarget;
before(async () => {
  t = await startAgentTarget();
});
after(() => t?.stop());

for (const [name, inputs] of [
  ["framing", framing],
  ["ids", ids],
  ["json", json],
] as const)
  test(`${name}: ${inputs.length} hostile inputs refused or ignored as documented; a good workspace then converges`, async (tc) => {
    for (const input of inputs) await tc.test(input.name, () => runStreamInput(t, input, t.baseline));
    await t.converge(`good-${name}`);
  });

test("no token in any log line", () => t.assertNoSecretLogged());
