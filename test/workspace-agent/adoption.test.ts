// The workspace agent never adopts or deletes what it did not create (issue 15, defect 1): a Flink
// deployment whose ConfigMap or JobManager Service name is already taken in the workspace namespace
// by someone else's object is refused naming it, and that object stays exactly as it was (labels,
// owner references, managedFields), through the deployment's delete too. Simulated Flink pods.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { createLogger } from "@meridian/shared/log";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import {
  condition,
  createWorkspace,
  type Env,
  podsOf,
  reported,
  SIMULATED,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent;
const logLines: string[] = [];

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-o");
  const sink = new PassThrough();
  sink.on("data", (c: Buffer) => logLines.push(...c.toString("utf8").split("\n").filter(Boolean)));
  const logger = createLogger({ component: "meridian-workspace-agent", level: "info", destination: sink });
  agent = await startAgent(env, ws, {}, { logger });
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: tests read nested fields freely
type Loose = Record<string, any>;

/** Every ConfigMap, Service and pod whose name starts with one of `prefixes`, exactly as stored. */
async function inventory(prefixes: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const plural of ["configmaps", "services", "pods"]) {
    const list = await env.admin.request<{ items: Loose[] }>({
      method: "GET",
      path: `/api/v1/namespaces/${ws.namespace}/${plural}`,
    });
    for (const o of list.items)
      if (prefixes.some((p) => o.metadata.name.startsWith(p)))
        out[`${plural}/${o.metadata.name}`] = {
          uid: o.metadata.uid,
          resourceVersion: o.metadata.resourceVersion,
          labels: o.metadata.labels,
          ownerReferences: o.metadata.ownerReferences,
          managedFields: o.metadata.managedFields,
        };
  }
  return out;
}

const refused = (name: string) =>
  waitFor(`${name} refused`, async () => {
    const s = await reported(env, ws, name);
    return s?.phase === "Refused" ? s : undefined;
  });

test("a deployment whose ConfigMap or Service name is someone else's is refused; theirs survives its delete", async () => {
  const ns = ws.namespace;
  await env.admin.request({
    method: "POST",
    path: `/api/v1/namespaces/${ns}/configmaps`,
    body: { metadata: { name: "taken-flink-config", labels: { team: "data" } }, data: { orders: "42" } },
  });
  await env.admin.request({
    method: "POST",
    path: `/api/v1/namespaces/${ns}/services`,
    body: { metadata: { name: "svc-jobmanager" }, spec: { ports: [{ name: "http", port: 80 }] } },
  });
  const before = await inventory(["taken-", "svc-"]);
  assert.equal(Object.keys(before).length, 2);

  await env.cp.admin.putDeployment(ws.id, "taken", SIMULATED);
  await env.cp.admin.putDeployment(ws.id, "svc", SIMULATED);
  await env.cp.admin.putDeployment(ws.id, "fine", SIMULATED);

  const taken = await refused("taken");
  assert.equal(condition(taken, "SpecAligned")?.reason, "SpecRefused");
  assert.match(
    condition(taken, "SpecAligned")?.message ?? "",
    /^name: ConfigMap mw-team-o\/taken-flink-config already exists and is not Meridian's \(it has no label app\.kubernetes\.io\/managed-by/,
  );
  assert.match(condition(taken, "SpecAligned")?.message ?? "", /give the deployment another name/);
  const svc = await refused("svc");
  assert.match(
    condition(svc, "SpecAligned")?.message ?? "",
    /Service mw-team-o\/svc-jobmanager already exists and is not Meridian's/,
  );
  // The good deployment beside them gets its pods.
  await waitFor("fine's pods", async () => (await podsOf(env, ns, "fine")).length === 2);

  for (let i = 0; i < 3; i++) {
    agent.controller.enqueueAll();
    await agent.controller.idle();
  }
  assert.deepEqual(await inventory(["taken-", "svc-"]), before, "nothing written, nothing created");
  const warnings = (name: string) =>
    logLines.filter((l) => l.includes("is not Meridian's; not adopting it") && l.includes(`"${name}"`));
  assert.equal(warnings("taken").length, 1, "logged once");
  assert.equal(warnings("svc").length, 1, "logged once");

  await env.cp.admin.deleteDeployment(ws.id, "taken");
  await env.cp.admin.deleteDeployment(ws.id, "svc");
  for (const name of ["taken", "svc"])
    await waitFor(`${name} deleted`, async () => {
      const s = await reported(env, ws, name);
      return s === null || s.phase === "Deleted";
    });
  await agent.controller.idle();
  assert.deepEqual(await inventory(["taken-", "svc-"]), before, "the delete deleted nothing of theirs");
  assert.equal((await podsOf(env, ns, "fine")).length, 2);
});
