// Signed desired state (issue 14, deliverable 4) on the workspace stream, on the real cluster (Flink
// pods of an image the node simulator does not map, so no JVM runs): the workspace agent pins the
// reference control plane's key, and a tampering proxy on loopback between them alters one field of a
// signed deployment.upsert. The change is refused SignatureInvalid, reported on the deployment, with a
// Warning Event on its ConfigMap; its ConfigMap and pods stay as they were while another deployment of
// the same workspace converges.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ANNOTATION_STREAM_MARK, parseMark } from "@meridian/shared/controlplane/replay-mark";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import {
  configMapReplayMarks,
  STREAM_MARK_CONFIG_MAP,
} from "../../workspace-agent/src/replay-mark-config-map.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  type PassingEvent,
  startTamperingProxy,
  type TamperingProxy,
} from "../control-plane/tampering-proxy.ts";
import {
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
let proxy: TamperingProxy;
let agent: WorkspaceAgent;

before(async () => {
  env = await startEnv();
  proxy = await startTamperingProxy(env.cp.url);
  ws = await createWorkspace(env, "team-sig");
  agent = await startAgent(env, ws, { controlPlaneUrl: proxy.url });
});
after(async () => {
  await agent?.stop();
  await proxy?.close();
  await env?.stop();
});

const body = (replicas: number): DeploymentBody => ({
  image: "registry.meridian.test/flink-simulated:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "100m", memory: "256Mi" } },
  taskManager: { resources: { cpu: "100m", memory: "256Mi" }, taskSlots: 1, replicas },
  state: "RUNNING",
  upgradeMode: "STATELESS",
});
const live = async (name: string) =>
  (await podsOf(env, ws.namespace, name)).filter((p) => !p.metadata.deletionTimestamp);
async function fingerprint(name: string) {
  const cm = await kubeGet<{ metadata: { resourceVersion: string } }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/configmaps/${name}-flink-config`,
  );
  const pods = (await live(name)).map((p) => `${p.metadata.name}/${p.metadata.uid}`);
  return { configMap: cm?.metadata.resourceVersion, pods: pods.sort() };
}
const running = (name: string, generation: number, pods: number) =>
  waitFor(`${name} at generation ${generation} with ${pods} pods`, async () => {
    const s = await reported(env, ws, name);
    return s?.observedGeneration === generation && (await live(name)).length === pods;
  });

test("one field of a signed deployment.upsert altered on the link: refused SignatureInvalid, evented, nothing changed; the other deployment converges", async () => {
  await env.cp.admin.putDeployment(ws.id, "keep", body(1));
  await env.cp.admin.putDeployment(ws.id, "victim", body(1));
  await running("keep", 1, 2);
  await running("victim", 1, 2);
  await agent.controller.idle();
  const held = await fingerprint("victim");

  const tampered = proxy.tamperOnce((e) => {
    if (e.type !== "deployment.upsert" || !e.data.includes('"name":"victim"')) return undefined;
    const data = JSON.parse(e.data);
    data.deployment.taskManager.replicas = 5;
    return JSON.stringify(data);
  });
  await env.cp.admin.putDeployment(ws.id, "victim", body(2));
  assert.match((await tampered).data, /"replicas":5/);
  await env.cp.admin.putDeployment(ws.id, "keep", body(2));
  await running("keep", 2, 3);

  const s = await waitFor("victim's SpecRejected", async () => {
    const r = await reported(env, ws, "victim");
    return condition(r, "SpecRejected") ? r : undefined;
  });
  const c = condition(s, "SpecRejected");
  assert.equal(c?.reason, "SignatureInvalid");
  assert.match(
    c?.message ?? "",
    /^event "deployment.upsert" \(victim\): its signature by key [0-9a-f]{16} does not match its content; generation 1 stays applied$/,
  );
  assert.equal(s?.observedGeneration, 1);
  const w = await env.cp.admin.getWorkspaceStatus(ws.id);
  assert.match(w?.rejectedEvents.last?.error ?? "", /does not match its content/);
  await waitFor("a Warning Event SignatureInvalid on victim's ConfigMap", async () => {
    const list = await kubeGet<{
      items: { type: string; reason: string; involvedObject: { kind: string; name: string } }[];
    }>(env, `/api/v1/namespaces/${ws.namespace}/events`);
    return list?.items.some(
      (e) =>
        e.type === "Warning" &&
        e.reason === "SignatureInvalid" &&
        e.involvedObject.name === "victim-flink-config",
    );
  });
  await agent.controller.idle();
  assert.deepEqual(await fingerprint("victim"), held, "victim's ConfigMap and pods are as they were");
});

test("after a restart an old, validly signed snapshot is still refused ReplayedEvent (the mark in meridian-stream-mark): the deployment created after it is not orphaned, the one deleted after it is not re-created", async () => {
  const stream = new RegExp(`/v1/workspaces/${ws.id}/stream$`);
  await env.cp.admin.putDeployment(ws.id, "gone", body(1));
  await running("gone", 1, 2);
  // A redial without Last-Event-ID: the snapshot the link keeps lists gone, not late.
  const passed = proxy.passed.length;
  proxy.forgetNextLastEventId();
  proxy.dropStreams();
  const old = (await waitFor("a snapshot listing gone", () =>
    proxy.passed
      .slice(passed)
      .find((e) => e.type === "snapshot" && stream.test(e.path) && e.data.includes('"name":"gone"')),
  )) as PassingEvent;
  await env.cp.admin.putDeployment(ws.id, "late", body(1));
  await running("late", 1, 2);
  await env.cp.admin.deleteDeployment(ws.id, "gone");
  await waitFor(
    "gone's pods and ConfigMap deleted",
    async () => {
      const f = await fingerprint("gone");
      return f.configMap === undefined && f.pods.length === 0;
    },
    60_000,
  );
  const cm = await kubeGet<{ data: { mark: string } }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/configmaps/${STREAM_MARK_CONFIG_MAP}`,
  );
  const mark = parseMark(cm?.data.mark);
  assert.ok(
    mark && mark.id > BigInt(old.id as string),
    `the stored mark ${mark?.id} is after the old snapshot ${old.id}`,
  );
  await agent.controller.idle();

  await agent.stop();
  const before = { late: await fingerprint("late"), gone: await fingerprint("gone") };
  const since = new Date().toISOString();
  const answered = proxy.answerNextStream(stream, [old]);
  agent = await startAgent(env, ws, { controlPlaneUrl: proxy.url });
  await answered;
  const last = await waitFor("the replay reported upward", async () => {
    const r = (await env.cp.admin.getWorkspaceStatus(ws.id))?.rejectedEvents.last;
    return r && r.at >= since && /is validly signed but not newer than event \d+/.test(r.error)
      ? r
      : undefined;
  });
  assert.equal(last.eventType, "snapshot");
  await agent.controller.idle();
  assert.deepEqual(
    { late: await fingerprint("late"), gone: await fingerprint("gone") },
    before,
    "late is not marked orphaned, gone is not re-created",
  );
  // The link lets go: the control plane's own snapshot is accepted, and nothing was undone.
  proxy.dropStreams();
  await waitFor("the control plane's snapshot accepted", async () => {
    const id = (await env.cp.admin.getWorkspaceStatus(ws.id))?.lastEventId;
    return id !== undefined && BigInt(id) >= mark.id;
  });
  await waitFor("late reported, not orphaned", async () => {
    const r = await reported(env, ws, "late");
    return r?.observedGeneration === 1 && !condition(r, "Orphaned");
  });
  await agent.controller.idle();
  assert.deepEqual(await fingerprint("gone"), before.gone, "gone stays gone");
  assert.deepEqual((await fingerprint("late")).pods, before.late.pods, "late's pods are the same");
});

test("a new deployment costs no write of meridian-stream-mark before it: its ConfigMap carries the creating event's mark, which the mark read at start includes (decision 50)", async () => {
  const path = `/api/v1/namespaces/${ws.namespace}/configmaps/${STREAM_MARK_CONFIG_MAP}`;
  const markCm = () => kubeGet<{ metadata: { resourceVersion: string }; data: { mark: string } }>(env, path);
  await agent.controller.idle();
  const before = await markCm();
  const stored = parseMark(before?.data.mark);
  assert.ok(stored, "the snapshot's mark is stored");
  await env.cp.admin.putDeployment(ws.id, "fresh", body(1));
  await running("fresh", 1, 2);
  const cm = await kubeGet<{ metadata: { annotations?: Record<string, string> } }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/configmaps/fresh-flink-config`,
  );
  const carried = parseMark(cm?.metadata.annotations?.[ANNOTATION_STREAM_MARK]);
  assert.ok(carried && carried.id > stored.id, `fresh carries ${carried?.id}, newer than ${stored.id}`);
  assert.equal(
    (await markCm())?.metadata.resourceVersion,
    before?.metadata.resourceVersion,
    "meridian-stream-mark was not written for the creation",
  );
  // What a restarted workspace agent reads before its first dial: the creation's mark, so an older
  // snapshot that does not list fresh would be refused ReplayedEvent (the test above).
  const streamPath = `/v1/workspaces/${ws.id}/stream`;
  const loaded = await configMapReplayMarks(env.admin, ws.namespace, ws.id).load(undefined, streamPath);
  assert.deepEqual(loaded, carried);
  assert.equal(
    await configMapReplayMarks(env.admin, ws.namespace, ws.id).load(undefined, "/v1/workspaces/other/stream"),
    undefined,
    "a mark of another stream is not taken",
  );
  // A later write of fresh's ConfigMap keeps the mark (server-side apply drops what it stops sending).
  await env.cp.admin.putDeployment(ws.id, "fresh", body(2));
  await running("fresh", 2, 3);
  const again = await kubeGet<{ metadata: { annotations?: Record<string, string> } }>(
    env,
    `/api/v1/namespaces/${ws.namespace}/configmaps/fresh-flink-config`,
  );
  assert.deepEqual(parseMark(again?.metadata.annotations?.[ANNOTATION_STREAM_MARK]), carried);
});
