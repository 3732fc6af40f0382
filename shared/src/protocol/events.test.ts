import assert from "node:assert/strict";
import { test } from "node:test";
import { agentEvents, parseEvent, workspaceEvents } from "./events.ts";

const ws = { id: "team-a", generation: 1, quota: { cpu: "4", memory: "8Gi" } };
const dep = {
  name: "orders",
  generation: 2,
  image: "flink:2.1",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 2,
  jobManager: { resources: { cpu: "1", memory: "1Gi" } },
  taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1 },
  state: "RUNNING",
};

test("a valid snapshot parses and gets defaults", () => {
  const r = parseEvent(agentEvents, "snapshot", "7", JSON.stringify({ workspaces: [ws] }));
  assert.ok(r.ok);
  assert.equal(r.event.type, "snapshot");
  assert.equal(r.event.id, "7");
  if (r.event.type !== "snapshot") throw new Error("narrowing");
  assert.equal(r.event.data.workspaces[0]?.quota.pods, 50);
});

test("a deployment upsert fills upgrade mode and nonces", () => {
  const r = parseEvent(workspaceEvents, "deployment.upsert", "1", JSON.stringify({ deployment: dep }));
  assert.ok(r.ok);
  if (r.event.type !== "deployment.upsert") throw new Error("narrowing");
  assert.equal(r.event.data.deployment.upgradeMode, "SAVEPOINT");
  assert.equal(r.event.data.deployment.restartNonce, 0);
});

test("unknown type, bad JSON and a bad field each give a reason naming what was wrong", () => {
  const unknown = parseEvent(agentEvents, "workspace.explode", "1", "{}");
  assert.deepEqual(unknown, { ok: false, error: 'unknown event type "workspace.explode"' });

  const notJson = parseEvent(agentEvents, "snapshot", "1", "{not json");
  assert.equal(notJson.ok, false);
  assert.match(!notJson.ok ? notJson.error : "", /not valid JSON/);

  const badName = parseEvent(
    workspaceEvents,
    "deployment.upsert",
    "1",
    JSON.stringify({ deployment: { ...dep, name: "Bad_Name", parallelism: -1 } }),
  );
  assert.equal(badName.ok, false);
  const msg = !badName.ok ? badName.error : "";
  assert.match(msg, /deployment\.name/);
  assert.match(msg, /deployment\.parallelism/);
});

test("prototype keys are not event types", () => {
  assert.equal(parseEvent(agentEvents, "constructor", "1", "{}").ok, false);
  assert.equal(parseEvent(agentEvents, "__proto__", "1", "{}").ok, false);
});

test("an unknown state is refused", () => {
  const r = parseEvent(
    workspaceEvents,
    "deployment.upsert",
    "1",
    JSON.stringify({ deployment: { ...dep, state: "PAUSED" } }),
  );
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error : "", /deployment\.state/);
});

test("a deployment name must start with a letter, since it becomes a Service name", () => {
  const r = parseEvent(
    workspaceEvents,
    "deployment.upsert",
    "1",
    JSON.stringify({ deployment: { ...dep, name: "1orders" } }),
  );
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error : "", /deployment\.name: .*start with a letter/);
});
