// The orphan rule of the workspace agent on the real cluster (issue 11, item 5): a deployment the
// control plane's snapshot no longer lists keeps running, and the time it was first seen so is
// written onto its ConfigMap (`meridian.dev/orphaned-since`). A restart mid-grace neither resets
// nor forgets it: the deletion starts at the original deadline. Listed again, the mark goes; a
// resync of a settled orphan writes nothing. Flink pods use an image the node simulator does not
// map, so no JVM starts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ANNOTATION_ORPHANED_SINCE } from "@meridian/shared/controller/orphan";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { ANNOTATION_STATE } from "@meridian/workspace-agent/flink/objects";
import {
  condition,
  createWorkspace,
  type Env,
  kubeGet,
  podsOf,
  reported,
  SIMULATED,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
  writeRequests,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent | undefined;

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-o");
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

interface ConfigMapLite {
  metadata: { uid: string; annotations?: Record<string, string> };
}

function configMap(name: string): Promise<ConfigMapLite | undefined> {
  return kubeGet<ConfigMapLite>(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${name}-flink-config`);
}

async function orphanMark(name: string): Promise<string | undefined> {
  return (await configMap(name))?.metadata.annotations?.[ANNOTATION_ORPHANED_SINCE];
}

/** Runs a deployment, then drops it from the snapshot: deleted in the control plane while no agent listens. */
async function orphan(name: string, graceSeconds: number): Promise<WorkspaceAgent> {
  agent ??= await startAgent(env, ws);
  await env.cp.admin.putDeployment(ws.id, name, SIMULATED);
  await waitFor(`${name}'s pods`, async () => (await podsOf(env, ws.namespace, name)).length === 2);
  await agent.stop();
  agent = undefined;
  await env.cp.admin.deleteDeployment(ws.id, name);
  return startAgent(env, ws, { orphanGracePeriodSeconds: graceSeconds });
}

test("an orphan is marked on its ConfigMap once; listed again, the mark goes and nothing restarts", async () => {
  agent = await orphan("back", 86_400);
  const uids = (await podsOf(env, ws.namespace, "back")).map((p) => p.metadata.uid).sort();
  const since = await waitFor("the orphan mark on back's ConfigMap", () => orphanMark("back"));
  assert.ok(Math.abs(Date.now() - Date.parse(since)) < 60_000, `a recent time: ${since}`);
  await waitFor("Orphaned reported", async () => condition(await reported(env, ws, "back"), "Orphaned"));

  // A resync of a settled orphan writes nothing, and keeps the first mark.
  await sleep(1000);
  const writes = await writeRequests(agent);
  agent.controller.enqueueAll();
  await agent.controller.idle();
  await sleep(500);
  assert.equal(await writeRequests(agent), writes, "a settled orphan's resync writes nothing");
  assert.equal(await orphanMark("back"), since);

  await env.cp.admin.putDeployment(ws.id, "back", SIMULATED);
  await waitFor("the mark removed", async () => (await configMap("back")) && !(await orphanMark("back")));
  await waitFor("Orphaned no longer reported", async () => {
    const s = await reported(env, ws, "back");
    return s && !condition(s, "Orphaned");
  });
  const now = (await podsOf(env, ws.namespace, "back")).map((p) => p.metadata.uid).sort();
  assert.deepEqual(now, uids, "the pods kept running throughout");
});

test("a restart mid-grace neither resets nor forgets the grace period: deleted at the first deadline", async () => {
  const graceMs = 20_000;
  agent = await orphan("orph", graceMs / 1000);
  const since = await waitFor("the orphan mark on orph's ConfigMap", () => orphanMark("orph"));
  const deadline = Date.parse(since) + graceMs;

  // The agent goes away 3 s into the grace period and is back 8 s into it.
  await sleep(Math.max(0, Date.parse(since) + 3000 - Date.now()));
  await agent.stop();
  agent = undefined;
  await sleep(Math.max(0, Date.parse(since) + 8000 - Date.now()));
  const restartedAt = Date.now();
  agent = await startAgent(env, ws, { orphanGracePeriodSeconds: graceMs / 1000 });
  const restarted = agent;
  await waitFor("the restarted agent sees orph orphaned", () =>
    restarted.status().deployments.some((d) => d.name === "orph" && condition(d, "Orphaned")),
  );
  assert.equal(await orphanMark("orph"), since, "the restart kept the first mark");
  assert.ok((await podsOf(env, ws.namespace, "orph")).length === 2, "still running mid-grace");

  // When the deletion started: its lifecycle operation's startedAt (or, had it already finished,
  // the moment the ConfigMap was seen gone).
  const startedAt = await waitFor(
    "orph's deletion to start",
    async () => {
      const cm = await configMap("orph");
      if (!cm) return Date.now();
      const state = JSON.parse(cm.metadata.annotations?.[ANNOTATION_STATE] ?? "{}");
      return state.op?.kind === "delete" ? Date.parse(state.op.startedAt) : undefined;
    },
    60_000,
    200,
  );
  assert.ok(startedAt >= deadline, `not before the deadline: started ${startedAt - deadline} ms after it`);
  // A restart that reset the grace period would delete at restartedAt + grace, 8 s later.
  assert.ok(
    startedAt < restartedAt + graceMs - 3000,
    `at the first deadline, not a full grace period after the restart: started ${startedAt - deadline} ms after the deadline`,
  );
  await waitFor(
    "orph's pods gone",
    async () => (await podsOf(env, ws.namespace, "orph")).length === 0,
    60_000,
  );
});
