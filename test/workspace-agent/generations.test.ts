// Issue 15, defects 3 and 4, for the workspace stream on the real cluster (Flink pods of an image the
// node simulator does not map, so no JVM runs): a deployment spec or delete older than the generation
// held is refused (also after a restart, and from a control plane that lost its data, through the
// generation persisted in the ConfigMap's lifecycle state), and one invalid deployment in a snapshot
// is refused alone, keeps what runs and is never orphaned, while the rest of the snapshot applies.
// Control-plane epochs (decisions.md 42): a restored control plane's new epoch takes a deployment over
// unchanged (no pod replaced) and never rolls one back; within an epoch generations still only move forward.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { DeploymentSpecInput, DeploymentStatus } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { type ControlPlane, type DeploymentBody, startControlPlane } from "../control-plane/index.ts";
import {
  AGENT_ID,
  condition,
  createWorkspace,
  type Env,
  kubeGet,
  podsOf,
  reported,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent;
/** A control plane started by a test in place of env.cp (env.stop() stops only its own). */
let replacement: ControlPlane | undefined;

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-g");
  agent = await startAgent(env, ws);
});
after(async () => {
  await agent?.stop();
  await replacement?.stop();
  await env?.stop();
});

const body = (replicas: number, allowNonRestoredState = false): DeploymentBody => ({
  image: "registry.meridian.test/flink-simulated:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job", allowNonRestoredState },
  parallelism: 1,
  jobManager: { resources: { cpu: "100m", memory: "256Mi" } },
  taskManager: { resources: { cpu: "100m", memory: "256Mi" }, taskSlots: 1, replicas },
  state: "RUNNING",
  upgradeMode: "STATELESS",
});
/** The epoch of the reference control plane's database, read from a spec it stored. */
let epoch: number | undefined;
const spec = (name: string, generation: number, b: DeploymentBody): DeploymentSpecInput => ({
  ...b,
  name,
  generation,
  epoch,
});

interface ConfigMapLite {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
}
const configMap = (name: string) =>
  kubeGet<ConfigMapLite>(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${name}-flink-config`);
const live = async (name: string) =>
  (await podsOf(env, ws.namespace, name)).filter((p) => !p.metadata.deletionTimestamp);

/** What must not change: the ConfigMap (with the lifecycle state in it) and every pod. */
async function fingerprint(name: string) {
  const cm = await configMap(name);
  const pods = (await podsOf(env, ws.namespace, name)).map((p) => `${p.metadata.name}/${p.metadata.uid}`);
  return { configMap: cm?.metadata.resourceVersion, pods: pods.sort() };
}

/** The fingerprint once it has stopped changing (pods created, state recorded) for a second. */
async function settled(name: string) {
  let last = JSON.stringify(await fingerprint(name));
  return waitFor(`${name} to settle`, async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await fingerprint(name);
    const same = JSON.stringify(now) === last;
    last = JSON.stringify(now);
    return same ? now : undefined;
  });
}

/** Sends an event on the workspace stream and waits until the agent has processed it and is idle. */
async function inject(type: string, data: unknown): Promise<void> {
  const r = await env.cp.admin.faults.injectEvent("workspace", ws.id, type, JSON.stringify(data));
  const id = BigInt(String(r.eventId));
  await waitFor(`event ${id} processed`, async () => {
    const last = (await env.cp.admin.getWorkspaceStatus(ws.id))?.lastEventId;
    return last !== undefined && BigInt(last) >= id;
  });
  await agent.controller.idle();
  await new Promise((r) => setTimeout(r, 500)); // writes a reconcile started would have landed by now
  await agent.controller.idle();
}

async function rejected(name: string, re: RegExp): Promise<DeploymentStatus> {
  return waitFor(`${name} reported SpecRejected ${re}`, async () => {
    const s = await reported(env, ws, name);
    return s && re.test(condition(s, "SpecRejected")?.message ?? "") ? s : undefined;
  });
}

const GEN5 = body(2, true);

test("a deployment spec older than the generation held is refused: no pod, no ConfigMap changes", async () => {
  for (const b of [body(1), body(2), body(2, true), body(1, true), GEN5])
    await env.cp.admin.putDeployment(ws.id, "orders", b);
  await waitFor("generation 5 with 2 TaskManagers", async () => {
    const s = await reported(env, ws, "orders");
    return s?.observedGeneration === 5 && (await live("orders")).length === 3;
  });
  const held = await settled("orders");
  epoch = (await env.cp.admin.getDeployment(ws.id, "orders")).epoch;
  assert.ok(epoch, "the reference control plane names its epoch");
  const before = (await env.cp.admin.getWorkspaceStatus(ws.id))?.rejectedEvents.count ?? 0;

  await inject("deployment.upsert", { deployment: spec("orders", 4, body(1, true)) });
  assert.deepEqual(await fingerprint("orders"), held, "generation 4 (one TaskManager) was not applied");
  const s = await rejected("orders", /spec generation 4 is older than generation 5/);
  assert.equal(s.observedGeneration, 5, "observedGeneration never goes back");
  assert.equal(condition(s, "SpecRejected")?.reason, "StaleGeneration");
  assert.equal(s.taskManagers.desired, 2);
  const st = await waitFor("the refusal in rejectedEvents", async () => {
    const w = await env.cp.admin.getWorkspaceStatus(ws.id);
    return w && w.rejectedEvents.count > before ? w : undefined;
  });
  assert.equal(st.rejectedEvents.last?.eventType, "deployment.upsert");

  await inject("deployment.delete", { name: "orders", generation: 3, epoch });
  assert.deepEqual(await fingerprint("orders"), held, "a delete of generation 3 deletes nothing");
  await rejected("orders", /delete of generation 3 is older than generation 5/);
});

test("after a restart the stale spec is still refused", async () => {
  await agent.stop();
  agent = await startAgent(env, ws);
  await waitFor("the restarted agent's status", async () => {
    const s = await reported(env, ws, "orders");
    return s && !condition(s, "SpecRejected") ? s : undefined;
  });
  const held = await settled("orders");
  await inject("deployment.upsert", { deployment: spec("orders", 4, body(1, true)) });
  assert.deepEqual(await fingerprint("orders"), held);
  const s = await rejected("orders", /spec generation 4 is older than generation 5/);
  assert.equal(s.observedGeneration, 5);
});

test("one invalid deployment in a snapshot is refused alone: the others apply and it is not orphaned", async () => {
  await env.cp.admin.putDeployment(ws.id, "alpha", body(1));
  await env.cp.admin.putDeployment(ws.id, "beta", body(1));
  await waitFor("alpha and beta running their pods", async () => {
    return (await live("alpha")).length === 2 && (await live("beta")).length === 2;
  });
  const beta = await settled("beta");
  await settled("alpha");
  const deployments = [
    spec("orders", 5, GEN5),
    spec("alpha", 2, body(2)),
    { ...spec("beta", 2, body(1)), parallelism: 0 },
    spec("gamma", 1, body(1)),
  ];
  await inject("snapshot", { workspaceId: ws.id, deployments });
  await waitFor("alpha scaled to 2 TaskManagers", async () => (await live("alpha")).length === 3, 20_000);
  await waitFor("gamma created", async () => (await live("gamma")).length === 2, 20_000);
  assert.deepEqual(await fingerprint("beta"), beta, "beta untouched");
  const s = await rejected("beta", /deployments\.2\.parallelism/);
  assert.equal(condition(s, "SpecRejected")?.reason, "InvalidSpec");
  assert.equal(s.observedGeneration, 1, "its last good generation stays");
  assert.equal(condition(s, "Orphaned"), undefined, "listed, so not orphaned");
  const st = await env.cp.admin.getWorkspaceStatus(ws.id);
  assert.match(st?.rejectedEvents.last?.error ?? "", /deployments\.2\.parallelism/);
});

test("a snapshot item whose name cannot be read makes the snapshot orphan nothing", async () => {
  const listed = [spec("orders", 5, GEN5), spec("alpha", 2, body(2)), spec("beta", 1, body(1))];
  // gamma is missing, but one item cannot be identified: it might be gamma.
  await inject("snapshot", { workspaceId: ws.id, deployments: [...listed, { generation: 1 }] });
  const gamma = await reported(env, ws, "gamma");
  assert.ok(gamma);
  assert.equal(condition(gamma, "Orphaned"), undefined, "gamma is not orphaned");
  await waitFor("beta's rejection cleared by its valid item", async () => {
    const s = await reported(env, ws, "beta");
    return s && !condition(s, "SpecRejected");
  });
  // The same snapshot without the unreadable item does orphan gamma (the test can see orphaning).
  await inject("snapshot", { workspaceId: ws.id, deployments: listed });
  await waitFor("gamma reported Orphaned", async () => {
    const s = await reported(env, ws, "gamma");
    return condition(s, "Orphaned")?.status === "True";
  });
});

test("a control plane that lost its data and sends another spec as generation 1 of a new epoch is refused from the ConfigMap's state", async () => {
  await agent.stop();
  const held = await settled("orders");
  const port = Number(new URL(env.cp.url).port);
  await env.cp.stop();
  replacement = await startControlPlane({ dbPath: join(env.dir, "cp-lost.db"), port, keepAliveMs: 1000 });
  env.cp = replacement;
  const cp = replacement;
  // The first request may meet a keep-alive socket of the control plane that was just replaced.
  env.agentToken = await waitFor(
    "the agent registered again",
    async () => (await cp.admin.createAgent(AGENT_ID)).token,
  );
  ws = await createWorkspace(env, ws.id);
  await cp.admin.putDeployment(ws.id, "orders", body(1));
  agent = await startAgent(env, ws);
  await waitFor(
    "the snapshot processed",
    async () => (await cp.admin.getWorkspaceStatus(ws.id))?.lastEventId,
  );
  await agent.controller.idle();
  await new Promise((r) => setTimeout(r, 1000));
  await agent.controller.idle();
  assert.deepEqual(await fingerprint("orders"), held, "generation 5's pods and ConfigMap stay");
  const s = await rejected(
    "orders",
    /spec generation 1 of the control plane's new epoch \d+ is a different spec than generation 5 of epoch \d+.*never rolls it back/,
  );
  assert.equal(s.observedGeneration, 5, "the generation held in the ConfigMap's lifecycle state");
  assert.equal(condition(s, "Orphaned"), undefined, "listed, so not orphaned");
});

test("the restored control plane's unchanged spec is taken over in its new epoch: no pod replaced", async () => {
  const pods = (await settled("orders")).pods;
  // The vendor restores generation 5's spec: generation 2 of its new epoch (1 was the refused one).
  const put = await env.cp.admin.putDeployment(ws.id, "orders", GEN5);
  assert.equal(put.deployment.generation, 2);
  assert.notEqual(put.deployment.epoch, epoch, "a new database is a new epoch");
  const s = await waitFor("orders aligned at generation 2 of the new epoch", async () => {
    const r = await reported(env, ws, "orders");
    return r?.observedGeneration === 2 && condition(r, "SpecAligned")?.status === "True" ? r : undefined;
  });
  assert.equal(condition(s, "SpecRejected"), undefined, "nothing refused");
  assert.deepEqual((await settled("orders")).pods, pods, "the same pods: the job was not redeployed");
  const state = JSON.parse(
    (await configMap("orders"))?.metadata.annotations?.["meridian.dev/lifecycle-state"] ?? "{}",
  );
  assert.equal(state.spec?.generation, 2);
  assert.equal(state.spec?.epoch, put.deployment.epoch, "the new epoch is what the ConfigMap holds now");
});

test("within the new epoch generations still only move forward, and the old epoch stays refused", async () => {
  const held = await settled("orders");
  const oldEpoch = epoch;
  epoch = (await env.cp.admin.getDeployment(ws.id, "orders")).epoch;
  await inject("deployment.upsert", { deployment: spec("orders", 1, body(1, true)) });
  assert.deepEqual(await fingerprint("orders"), held, "generation 1 of the same epoch is not applied");
  await rejected(
    "orders",
    /spec generation 1 is older than generation 2, which the workspace agent already holds/,
  );
  // A replay of what the control plane sent before it lost its data. With signed events pinned the
  // signature check may refuse it first (decision 41), without advancing the resume id.
  await env.cp.admin.faults.injectEvent(
    "workspace",
    ws.id,
    "deployment.upsert",
    JSON.stringify({ deployment: { ...spec("orders", 9, body(1, true)), epoch: oldEpoch } }),
  );
  await rejected("orders", /from control-plane epoch \d+, older than epoch \d+/);
  await agent.controller.idle();
  assert.deepEqual(
    await fingerprint("orders"),
    held,
    "an older epoch is not applied, whatever its generation",
  );
});
