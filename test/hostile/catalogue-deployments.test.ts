// The catalogue's hostile Flink deployment specs (test/hostile/catalogue/deployments.ts), each sent
// down the workspace stream of a real workspace agent on the real local cluster by the hostile
// control plane: refused by the schema or the local policy with its named reason in the status
// upward (rejectedEvents, or the deployment's SpecAligned SpecRefused and SpecRejected conditions)
// and in a log line. Nothing in the cluster changes, the workspace agent stays up on the same stream,
// a good deployment created after each batch converges, and no token reaches a log line.
import { after, before, test } from "node:test";
import { deployments } from "./catalogue/index.ts";
import { runStreamInput } from "./catalogue/stream-runner.ts";
import { startWorkspaceTarget, type WorkspaceTarget } from "./catalogue/workspace-target.ts";

let t: WorkspaceTarget;
before(async () => {
  t = await startWorkspaceTarget();
});
after(() => t?.stop());

const BATCH = 20;
for (let i = 0; i < deployments.length; i += BATCH) {
  const batch = deployments.slice(i, i + BATCH);
  test(`deployments ${i + 1}-${i + batch.length}: refused as documented, nothing changes; a good deployment then converges`, async (tc) => {
    for (const input of batch) await tc.test(input.name, () => runStreamInput(t, input, t.baseline));
    await t.converge(`good-${i / BATCH + 1}`);
  });
}

test("no token in any log line", () => t.assertNoSecretLogged());
