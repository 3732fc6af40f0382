// The workspace agent's part of a workspace deletion (issue 12, deliverable 7): when the agent marks
// the credential Secret meridian.dev/workspace-deleting, every deployment the workspace agent holds
// goes through its own delete path — a SAVEPOINT deployment is stopped with a savepoint, recorded in
// its persisted lifecycle state (where the agent reads the final location from), before its pods and
// ConfigMap go — although the control plane still lists it. The JobManager is a fake REST server
// whose savepoints complete, so no JVM is needed.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import {
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
} from "./harness.ts";

const LOCATION = "file:///flink-data/savepoints/keep/savepoint-final";
let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent;
const calls: string[] = [];

const fake = createServer((req, res) => {
  const json = (v: unknown) =>
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(v));
  const url = req.url ?? "";
  calls.push(`${req.method} ${url}`);
  if (url === "/overview") return json({ taskmanagers: 1, "slots-total": 1, "slots-available": 0 });
  if (url === "/jobs/overview")
    return json({ jobs: [{ jid: "j1", state: "RUNNING", "start-time": Date.now() }] });
  if (url === "/jobs/j1") return json({ jid: "j1", state: "RUNNING", vertices: [{ parallelism: 1 }] });
  if (req.method === "POST" && /^\/jobs\/j1\/(stop|savepoints)$/.test(url))
    return json({ "request-id": "x" });
  if (/^\/jobs\/j1\/savepoints\//.test(url))
    return json({ status: { id: "COMPLETED" }, operation: { location: LOCATION } });
  res.writeHead(404).end();
});

before(async () => {
  await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  env = await startEnv();
  ws = await createWorkspace(env, "team-del");
  agent = await startAgent(env, ws, {}, { restUrl: () => url });
});

after(async () => {
  await agent?.stop();
  await env?.stop();
  fake.closeAllConnections();
  fake.close();
});

const cmPath = (name: string) => `/api/v1/namespaces/${ws.namespace}/configmaps/${name}-flink-config`;

test("the workspace-deleting mark stops a SAVEPOINT deployment with a savepoint and deletes it, though it is still listed", async () => {
  await env.cp.admin.putDeployment(ws.id, "keep", { ...SIMULATED, upgradeMode: "SAVEPOINT" as const });
  await waitFor("keep RUNNING", async () => (await reported(env, ws, "keep"))?.job.state === "RUNNING");
  await sleep(1000);
  assert.ok(await kubeGet(env, cmPath("keep")), "nothing deletes it before the mark");
  assert.ok(!calls.some((c) => c.startsWith("POST /jobs/j1/stop")), "no stop before the mark");

  // The agent's mark, as drain.ts writes it (its own field manager, nothing else touched).
  await env.admin.request({
    method: "PATCH",
    path: `/api/v1/namespaces/${ws.namespace}/secrets/meridian-workspace-credential`,
    contentType: "application/merge-patch+json",
    body: { metadata: { annotations: { "meridian.dev/workspace-deleting": new Date().toISOString() } } },
  });
  // The agent reads the final savepoint from the ConfigMap's lifecycle state while it drains.
  let finalSavepoint: string | undefined;
  await waitFor(
    "keep's ConfigMap and pods gone",
    async () => {
      const cm = await kubeGet(env, cmPath("keep"));
      const text = (cm as { metadata?: { annotations?: Record<string, string> } } | undefined)?.metadata
        ?.annotations?.["meridian.dev/lifecycle-state"];
      if (text) {
        const state = JSON.parse(text) as { op?: { kind?: string; savepoint?: string } };
        if (state.op?.kind === "delete" && state.op.savepoint) finalSavepoint = state.op.savepoint;
      }
      return !cm && (await podsOf(env, ws.namespace, "keep")).length === 0;
    },
    30_000,
    100,
  );
  assert.ok(
    calls.some((c) => c === "POST /jobs/j1/stop"),
    "the job was stopped with a savepoint (the SAVEPOINT upgrade mode's delete path)",
  );
  assert.equal(finalSavepoint, LOCATION, "the final savepoint was recorded before the ConfigMap went");
  await sleep(2000);
  assert.equal(
    await kubeGet(env, cmPath("keep")),
    undefined,
    "a later snapshot still listing it starts nothing",
  );
});
