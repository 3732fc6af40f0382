// The workspace agent without JVMs: its Flink pods use an image the node simulator does not map
// (not `*/flink:*`),
// so they "run" without a process. Covers refusals (bad events, images outside the allowed
// registries), the pod controller (deleted pods, TaskManager count, drift), credentials (scoped to
// one workspace, refreshed from the Secret without a restart), health, metrics and log redaction.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { deleteObject } from "@meridian/shared/kube/apply";
import { PODS, SERVICES } from "@meridian/shared/kube/resources";
import { createLogger } from "@meridian/shared/log";
import { PROTOCOL_HEADER, PROTOCOL_VERSION, paths } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { startControlPlane } from "../control-plane/index.ts";
import {
  AGENT_ID,
  condition,
  createWorkspace,
  type Env,
  kubeGet,
  mintCredential,
  podsOf,
  reported,
  SIMULATED,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
  writeCredentialSecret,
  writeRequests,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent;
const logLines: string[] = [];

/** A debug logger whose lines land in `logLines` (checked for the token, dumped on request). */
function captureLogger() {
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean)));
  return createLogger({ component: "workspace-agent", level: "debug", destination: sink });
}

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-c");
  agent = await startAgent(env, ws, {}, { logger: captureLogger() });
});

after(async () => {
  await agent?.stop();
  await env?.stop();
  if (process.env.MERIDIAN_TEST_LOG_FILE)
    writeFileSync(process.env.MERIDIAN_TEST_LOG_FILE, `${logLines.join("\n")}\n`);
});

const live = async (name: string) =>
  (await podsOf(env, ws.namespace, name)).filter((p) => !p.metadata.deletionTimestamp);

test("an image outside the allowed registries is refused naming `image`; other deployments go ahead", async () => {
  await env.cp.admin.putDeployment(ws.id, "good", SIMULATED);
  await env.cp.admin.putDeployment(ws.id, "evil", { ...SIMULATED, image: "evil.example.com/flink:2.3.0" });
  const evil = await waitFor("evil refused", async () => {
    const s = await reported(env, ws, "evil");
    return s?.phase === "Refused" ? s : undefined;
  });
  const cond = condition(evil, "SpecAligned");
  assert.equal(cond?.status, "False");
  assert.equal(cond?.reason, "SpecRefused");
  assert.match(cond?.message ?? "", /^image: .*evil\.example\.com/);
  await waitFor("good's pods", async () => (await live("good")).length === 2);
  assert.equal((await podsOf(env, ws.namespace, "evil")).length, 0);
  const good = await waitFor("good reported with its JobManager", async () => {
    const r = await reported(env, ws, "good");
    return r?.jobManager ? r : undefined;
  });
  assert.equal(good.phase, "Deploying");
  assert.equal(good.job.state, "UNREACHABLE", "no JobManager answers: never RUNNING when unknown");
});

test("a malformed event is rejected, counted in status, and changes nothing", async () => {
  const before = (await podsOf(env, ws.namespace, "good")).map((p) => p.metadata.uid).sort();
  await env.cp.admin.fault({
    type: "inject-event",
    stream: "workspace",
    target: ws.id,
    event: "deployment.upsert",
    data: JSON.stringify({
      deployment: { ...SIMULATED, name: "Bad_Name", generation: 1, parallelism: -1, state: "PAUSED" },
    }),
  });
  const st = await waitFor("rejection reported", async () => {
    const s = await env.cp.admin.getWorkspaceStatus(ws.id);
    return s && s.rejectedEvents.count >= 1 ? s : undefined;
  });
  assert.match(st.rejectedEvents.last?.error ?? "", /deployment\.name/);
  assert.match(st.rejectedEvents.last?.error ?? "", /deployment\.parallelism/);
  assert.match(st.rejectedEvents.last?.error ?? "", /deployment\.state/);
  assert.equal(
    st.deployments.find((d) => d.name === "Bad_Name"),
    undefined,
  );
  const after = (await podsOf(env, ws.namespace, "good")).map((p) => p.metadata.uid).sort();
  assert.deepEqual(after, before);
});

test("a deleted TaskManager pod is recreated", async () => {
  const tm = (await live("good")).find((p) => p.metadata.name === "good-taskmanager-0");
  assert.ok(tm);
  await deleteObject(env.admin, PODS, ws.namespace, tm.metadata.name);
  await waitFor("a new good-taskmanager-0", async () =>
    (await live("good")).some(
      (p) => p.metadata.name === "good-taskmanager-0" && p.metadata.uid !== tm.metadata.uid,
    ),
  );
});

test("TaskManager count 1 -> 2 -> 1 adds and removes pods without touching the JobManager", async () => {
  const jm = (await live("good")).find((p) => p.metadata.name === "good-jobmanager");
  await env.cp.admin.putDeployment(ws.id, "good", {
    ...SIMULATED,
    taskManager: { ...SIMULATED.taskManager, replicas: 2 },
  });
  await waitFor("two TaskManagers", async () => (await live("good")).length === 3);
  await env.cp.admin.putDeployment(ws.id, "good", SIMULATED);
  await waitFor("one TaskManager", async () => (await live("good")).length === 2);
  const jmAfter = (await live("good")).find((p) => p.metadata.name === "good-jobmanager");
  assert.equal(jmAfter?.metadata.uid, jm?.metadata.uid);
  // Generation 1's status also says one TaskManager: wait for generation 3's (the control plane may
  // still hold an older one when the pods changed faster than the status reporter sends).
  const s = await waitFor("status of generation 3 with one TaskManager desired", async () => {
    const r = await reported(env, ws, "good");
    return r?.observedGeneration === 3 && r.taskManagers.desired === 1 && r.taskManagers.pods.length === 1
      ? r
      : undefined;
  });
  assert.equal(s.observedGeneration, 3);
});

test("drift is repaired: an edited ConfigMap and a deleted Service come back", async () => {
  const path = `/api/v1/namespaces/${ws.namespace}/configmaps/good-flink-config`;
  await env.admin.request({
    method: "PATCH",
    path,
    contentType: "application/merge-patch+json",
    body: { data: { "config.yaml": "jobmanager.rpc.port: 1\n" } },
  });
  await waitFor("config.yaml restored", async () => {
    const cm = await kubeGet<{ data: Record<string, string> }>(env, path);
    return cm?.data["config.yaml"]?.includes('jobmanager.rpc.port: "6123"');
  });
  const svc = await kubeGet<{ metadata: { uid: string } }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/services/good-jobmanager`,
  );
  await deleteObject(env.admin, SERVICES, ws.namespace, "good-jobmanager");
  await waitFor("Service recreated", async () => {
    const s = await kubeGet<{ metadata: { uid: string } }>(
      env,
      `/api/v1/namespaces/${ws.namespace}/services/good-jobmanager`,
    );
    return s && s.metadata.uid !== svc?.metadata.uid;
  });
  await waitFor("a DriftRepaired Event on the ConfigMap", async () => {
    const events = await kubeGet<{ items: Array<{ reason: string; involvedObject: { name: string } }> }>(
      env,
      `/api/v1/namespaces/${ws.namespace}/events`,
    );
    return events?.items.some(
      (e) => e.reason === "DriftRepaired" && e.involvedObject.name === "good-flink-config",
    );
  });
});

test("a resync of settled deployments writes nothing", async () => {
  await new Promise((r) => setTimeout(r, 1500)); // let the drift repair's own events settle
  await agent.controller.idle();
  const before = await writeRequests(agent);
  agent.controller.enqueueAll();
  await agent.controller.idle();
  agent.controller.enqueueAll();
  await agent.controller.idle();
  assert.equal(await writeRequests(agent), before);
});

test("the workspace credential cannot open another workspace's stream", async () => {
  await createWorkspace(env, "team-d");
  const res = await fetch(env.cp.url + paths.workspaceStream("team-d"), {
    headers: { authorization: `Bearer ${ws.credential.token}`, [PROTOCOL_HEADER]: PROTOCOL_VERSION },
  });
  await res.body?.cancel();
  assert.equal(res.status, 403);
  const own = await fetch(env.cp.url + paths.workspaceStatus(ws.id), {
    method: "POST",
    headers: {
      authorization: `Bearer ${ws.credential.token}`,
      [PROTOCOL_HEADER]: PROTOCOL_VERSION,
      "content-type": "application/json",
    },
    body: JSON.stringify(agent.status()),
  });
  await own.body?.cancel();
  assert.ok(own.status < 300, `own status accepted (${own.status})`);
});

test("health, readiness and metrics are served; the token never reaches a log line", async () => {
  assert.equal((await fetch(`${agent.healthUrl}/healthz`)).status, 200);
  assert.equal((await fetch(`${agent.healthUrl}/readyz`)).status, 200);
  const metrics = await (await fetch(`${agent.healthUrl}/metrics`)).text();
  assert.match(metrics, /meridian_workspace_agent_reconciles_total\{outcome="ok"\} \d+/);
  assert.match(metrics, /meridian_workspace_agent_kube_requests_total\{verb="apply",code="200"\} \d+/);
  assert.match(metrics, /meridian_workspace_agent_stream_connected 1/);
  assert.ok(logLines.length > 20, "the agent logged");
  assert.ok(
    logLines.every((l) => !l.includes(ws.credential.token)),
    "no log line holds the token",
  );
  assert.ok(
    logLines.some((l) => JSON.parse(l).deployment === "good"),
    "lines carry the deployment field",
  );
});

test("without the control plane, a restarted workspace agent keeps the pods running from the persisted spec", async () => {
  await env.cp.stop();
  await agent.stop();
  agent = await startAgent(env, ws, {}, { logger: captureLogger() });
  await agent.controller.idle();
  assert.equal(await writeRequests(agent), 0, "a restart over settled deployments writes nothing");
  const tm = (await live("good")).find((p) => p.metadata.name === "good-taskmanager-0");
  assert.ok(tm);
  await deleteObject(env.admin, PODS, ws.namespace, tm.metadata.name);
  await waitFor("good-taskmanager-0 recreated with no control plane", async () =>
    (await live("good")).some(
      (p) => p.metadata.name === "good-taskmanager-0" && p.metadata.uid !== tm.metadata.uid,
    ),
  );
  assert.equal((await live("good")).length, 2, "nothing deleted because a connection failed");
  const restartedAt = new Date();
  await env.cp.restart();
  // A delete sent before this agent's first snapshot would only make "good" an orphan (kept for the
  // grace period): wait for the stream.
  await env.cp.admin.waitForStreams(
    { stream: "workspace", target: ws.id, connectedAfter: restartedAt },
    30_000,
  );
  await waitFor("status reported again after the control plane returned", async () => {
    const s = await env.cp.admin.getWorkspaceStatus(ws.id);
    return (
      s?.agent.startedAt === agent.status().agent.startedAt && s.deployments.some((d) => d.name === "good")
    );
  });
});

test("delete of a STATELESS deployment removes its pods, Service and ConfigMap", async () => {
  await env.cp.admin.deleteDeployment(ws.id, "good");
  await waitFor("everything of good gone", async () => {
    const pods = await podsOf(env, ws.namespace, "good");
    const cm = await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/configmaps/good-flink-config`);
    const svc = await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/services/good-jobmanager`);
    return pods.length === 0 && !cm && !svc;
  });
  // The control plane stops hearing about it.
  await waitFor("status without good", async () => {
    const s = await env.cp.admin.getWorkspaceStatus(ws.id);
    return s && !s.deployments.some((d) => d.name === "good" && d.phase !== "Deleted");
  });
});

test("a deployment deleted while its agent was away is an orphan, deleted after the grace period", async () => {
  await env.cp.admin.putDeployment(ws.id, "orph", SIMULATED);
  await waitFor("orph's pods", async () => (await live("orph")).length === 2);
  await agent.stop();
  await env.cp.admin.deleteDeployment(ws.id, "orph"); // nobody listens: the next snapshot just omits it
  agent = await startAgent(env, ws, { orphanGracePeriodSeconds: 3 }, { logger: captureLogger() });
  const s = await waitFor("Orphaned reported", async () => {
    const st = await reported(env, ws, "orph");
    return condition(st, "Orphaned")?.status === "True" ? st : undefined;
  });
  assert.equal(s?.phase, "Deploying", "an orphan keeps running");
  assert.equal((await live("orph")).length, 2);
  await waitFor(
    "orph deleted after 3 s",
    async () => (await podsOf(env, ws.namespace, "orph")).length === 0,
    30_000,
  );
  await waitFor(
    "ConfigMap gone",
    async () => !(await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/configmaps/orph-flink-config`)),
  );
});

test("failed savepoints block a SAVEPOINT upgrade and a delete; force-delete is the way out", async () => {
  // A JobManager REST API whose job runs but whose savepoints always fail.
  const fake = createServer((req, res) => {
    const json = (v: unknown) =>
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(v));
    const url = req.url ?? "";
    if (url === "/overview") return json({ taskmanagers: 1, "slots-total": 1, "slots-available": 0 });
    if (url === "/jobs/overview")
      return json({ jobs: [{ jid: "j1", state: "RUNNING", "start-time": Date.now() }] });
    if (url === "/jobs/j1") return json({ jid: "j1", state: "RUNNING", vertices: [{ parallelism: 1 }] });
    if (req.method === "POST" && /^\/jobs\/j1\/(stop|savepoints)$/.test(url))
      return json({ "request-id": "x" });
    if (/^\/jobs\/j1\/savepoints\//.test(url))
      return json({
        status: { id: "COMPLETED" },
        operation: {
          "failure-cause": {
            "stack-trace": "E\nCaused by: CheckpointException: Checkpoint was declined (disk full)",
          },
        },
      });
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
  const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  const wsF = await createWorkspace(env, "team-f");
  const agentF = await startAgent(env, wsF, {}, { restUrl: () => fakeUrl });
  const st = (n: string) => reported(env, wsF, n);
  try {
    const body = { ...SIMULATED, upgradeMode: "SAVEPOINT" as const };
    await env.cp.admin.putDeployment(wsF.id, "stuck", body);
    await waitFor(
      "stuck RUNNING (as the fake JobManager says)",
      async () => (await st("stuck"))?.job.state === "RUNNING",
    );
    const pods = (await podsOf(env, wsF.namespace, "stuck")).map((p) => p.metadata.uid).sort();

    await env.cp.admin.putDeployment(wsF.id, "stuck", {
      ...body,
      image: "registry.meridian.test/flink-simulated:2.4.0",
    });
    const blocked = await waitFor("upgrade blocked", async () => {
      const s = await st("stuck");
      return condition(s, "SpecAligned")?.reason === "UpgradeBlocked" ? s : undefined;
    });
    assert.match(condition(blocked, "SpecAligned")?.message ?? "", /declined \(disk full\)/);
    assert.deepEqual(
      (await podsOf(env, wsF.namespace, "stuck")).map((p) => p.metadata.uid).sort(),
      pods,
      "old run untouched",
    );

    await env.cp.admin.deleteDeployment(wsF.id, "stuck");
    const del = await waitFor("DeletionBlocked", async () => {
      const s = await st("stuck");
      return condition(s, "DeletionBlocked")?.status === "True" ? s : undefined;
    });
    assert.equal(del?.phase, "Deleting");
    assert.match(condition(del, "DeletionBlocked")?.message ?? "", /meridian\.dev\/force-delete=true/);
    assert.equal(
      (await podsOf(env, wsF.namespace, "stuck")).length,
      2,
      "nothing removed without the savepoint",
    );

    await env.admin.request({
      method: "PATCH",
      path: `/api/v1/namespaces/${wsF.namespace}/configmaps/stuck-flink-config`,
      contentType: "application/merge-patch+json",
      body: { metadata: { annotations: { "meridian.dev/force-delete": "true" } } },
    });
    await waitFor(
      "forced delete done",
      async () => {
        const cm = await kubeGet(env, `/api/v1/namespaces/${wsF.namespace}/configmaps/stuck-flink-config`);
        return !cm && (await podsOf(env, wsF.namespace, "stuck")).length === 0;
      },
      30_000,
    );
  } finally {
    await agentF.stop();
    fake.closeAllConnections();
    fake.close();
  }
});

test("a refreshed credential in the Secret is used without a restart", async () => {
  // A second control plane whose workspace tokens live 4 s, so the first one is dead soon.
  const cp2 = await startControlPlane({
    dbPath: `${env.dir}/cp2.db`,
    workspaceTokenTtlSeconds: 4,
    keepAliveMs: 500,
  });
  let agent2: WorkspaceAgent | undefined;
  try {
    const a = await cp2.admin.createAgent(AGENT_ID);
    const env2 = { ...env, cp: cp2, agentToken: a.token };
    const ws2 = await createWorkspace(env2, "team-e");
    agent2 = await startAgent(env2, ws2);
    await cp2.admin.waitForStreams({ stream: "workspace", target: ws2.id }, 10_000);
    await new Promise((r) => setTimeout(r, 4500)); // the first credential has expired now
    const fresh = await mintCredential(env2, ws2.id);
    await writeCredentialSecret(env2, ws2.namespace, fresh);
    const droppedAt = new Date();
    await cp2.admin.fault({ type: "drop-streams", stream: "workspace", target: ws2.id });
    await cp2.admin.waitForStreams(
      { stream: "workspace", target: ws2.id, connectedAfter: droppedAt },
      10_000,
    );
    await cp2.admin.putDeployment(ws2.id, "late", { ...SIMULATED });
    await waitFor("the new deployment seen through the refreshed credential", async () => {
      const s = await cp2.admin.getDeploymentStatus(ws2.id, "late");
      return s !== null;
    });
  } finally {
    await agent2?.stop();
    await cp2.stop();
  }
});
