// The orphan rule across an agent restart (issue 11, item 5), on a real API server through the
// reference control plane: the time a workspace was first seen missing lives on its namespace
// (`meridian.dev/orphaned-since`, shared/src/controller/orphan.ts), so an agent restarted in the
// middle of the grace period neither resets nor forgets it. The new agent reports the same deadline,
// leaves the mark as it is, and deletes the namespace when the grace period that began before the
// restart ends: not earlier, and not a whole period after the restart.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { AgentHandle } from "../../agent/src/agent.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

const GRACE_MS = 12_000;
const ORPHANED = "meridian.dev/orphaned-since";
const NAMESPACE = "/api/v1/namespaces/mw-gone";

let h: Harness;
let agent: AgentHandle;
let policyFile: string;

before(async () => {
  h = await startHarness();
  policyFile = await h.writePolicy({ orphanGracePeriodSeconds: GRACE_MS / 1000 });
  agent = await h.startAgent({ policyFile });
});
after(() => h?.stop());

const namespace = () => h.admin.getOrUndefined<KubeObject>(NAMESPACE);

/** The Orphaned condition's message in the status the agent with `identity` last sent. */
async function orphanedMessage(identity: string): Promise<string | undefined> {
  const s = await h.cp.admin.getAgentStatus(h.agentId);
  if (s?.agent.identity !== identity) return undefined;
  const w = s.workspaces.find((x) => x.id === "gone");
  const c = w?.conditions.find((x) => x.type === "Orphaned" && x.status === "True");
  return c?.message;
}

test("an agent restarted in the middle of the grace period keeps the orphan's deadline", async () => {
  await h.cp.admin.putWorkspace(h.agentId, "gone", { quota: { cpu: "1", memory: "1Gi" } });
  await waitFor("the workspace's namespace", namespace);
  await waitFor("the agent to lead", () => agent.controller()?.snapshotSeen);
  await agent.controller()?.idle();

  // A control plane that lost its data: "gone" is missing from its snapshot and becomes an orphan.
  await h.replaceControlPlane();
  const since = await waitFor(
    "the orphan mark",
    async () => (await namespace())?.metadata?.annotations?.[ORPHANED],
  );
  const deadline = Date.parse(since) + GRACE_MS;
  const deleteAt = new Date(deadline).toISOString();
  const first = await waitFor("Orphaned reported", () => orphanedMessage(agent.identity));
  assert.match(first, new RegExp(`deleted at ${deleteAt}`));

  // Restart half way through the grace period.
  await sleep(Math.max(0, deadline - GRACE_MS / 2 - Date.now()));
  await agent.stop();
  const restartedAt = Date.now();
  assert.ok(deadline - restartedAt > 4000, "the restart is well inside the grace period");
  agent = await h.startAgent({ policyFile });

  const second = await waitFor(
    "the new agent's Orphaned status",
    () => orphanedMessage(agent.identity),
    10_000,
  );
  assert.match(
    second,
    new RegExp(`since ${since}; deleted at ${deleteAt}`),
    "the same deadline after the restart",
  );
  const ns = await namespace();
  assert.equal(ns?.metadata?.annotations?.[ORPHANED], since, "the mark is not rewritten");
  assert.equal(ns?.metadata?.deletionTimestamp, undefined, "not deleted on restart");

  const deletedAt = await waitFor(
    "the namespace deleted",
    async () => {
      const n = await namespace();
      if (!n) return Date.now();
      const ts = n.metadata?.deletionTimestamp;
      return ts ? Date.parse(ts) : undefined;
    },
    GRACE_MS * 3,
  );
  // deletionTimestamp has whole seconds: allow one below the deadline.
  assert.ok(deletedAt >= deadline - 1000, `deleted ${deadline - deletedAt} ms before the grace period ended`);
  assert.ok(
    deletedAt < restartedAt + GRACE_MS - 2000,
    `deleted ${deletedAt - restartedAt} ms after the restart: the grace period started over`,
  );
});
