import assert from "node:assert/strict";
import { test } from "node:test";
import { deploymentSpecInput } from "./deployment-spec.testutil.ts";
import { agentEvents, parseEvent, workspaceEvents } from "./events.ts";

const ws = { id: "team-a", generation: 1, quota: { cpu: "4", memory: "8Gi" } };
const dep = deploymentSpecInput({
  generation: 2,
  image: "flink:2.1",
  parallelism: 2,
  taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1 },
});

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

test("one invalid snapshot item is refused with its reason; the others are accepted", () => {
  const items = [ws, { ...ws, id: "team-b", quota: { cpu: "lots", memory: "1Gi" } }, { ...ws, id: "team-c" }];
  const r = parseEvent(agentEvents, "snapshot", "9", JSON.stringify({ workspaces: items }));
  assert.ok(r.ok);
  if (r.event.type !== "snapshot") throw new Error("narrowing");
  assert.deepEqual(
    r.event.data.workspaces.map((w) => w.id),
    ["team-a", "team-c"],
  );
  assert.equal(r.event.data.refused.length, 1);
  const [refused] = r.event.data.refused;
  assert.deepEqual([refused?.index, refused?.key, refused?.generation], [1, "team-b", 1]);
  assert.match(refused?.error ?? "", /^workspaces\.1\.quota\.cpu: must be a Kubernetes quantity/);
});

test("a snapshot item without a readable id is refused without a key; so are both of a duplicate", () => {
  const items = [
    ws,
    "not an object",
    { ...ws, id: "Not_A_Label" },
    { generation: 3 },
    { ...ws, id: "dup" },
    { ...ws, id: "dup" },
  ];
  const r = parseEvent(agentEvents, "snapshot", "9", JSON.stringify({ workspaces: items }));
  assert.ok(r.ok);
  if (r.event.type !== "snapshot") throw new Error("narrowing");
  assert.deepEqual(
    r.event.data.workspaces.map((w) => w.id),
    ["team-a"],
  );
  assert.deepEqual(
    r.event.data.refused.map((x) => [x.index, x.key, x.generation]),
    [
      [1, undefined, undefined],
      [2, undefined, 1],
      [3, undefined, 3],
      [4, "dup", 1],
      [5, "dup", 1],
    ],
  );
  assert.match(r.event.data.refused[3]?.error ?? "", /id "dup" is listed 2 times/);
});

test("a deployments snapshot is read item by item too; a bad envelope still refuses the event", () => {
  const bad = { ...dep, name: "broken", parallelism: 0 };
  const r = parseEvent(
    workspaceEvents,
    "snapshot",
    "3",
    JSON.stringify({ workspaceId: "team-a", deployments: [dep, bad] }),
  );
  assert.ok(r.ok);
  if (r.event.type !== "snapshot") throw new Error("narrowing");
  assert.deepEqual(
    r.event.data.deployments.map((d) => d.name),
    ["orders"],
  );
  assert.deepEqual(r.event.data.refused[0]?.key, "broken");
  assert.match(r.event.data.refused[0]?.error ?? "", /deployments\.1\.parallelism/);
  const envelope = parseEvent(workspaceEvents, "snapshot", "3", JSON.stringify({ deployments: {} }));
  assert.equal(envelope.ok, false);
  assert.match(!envelope.ok ? envelope.error : "", /workspaceId/);
});

test("a delete may carry the generation it deletes", () => {
  const r = parseEvent(agentEvents, "workspace.delete", "4", JSON.stringify({ id: "team-a", generation: 4 }));
  assert.ok(r.ok);
  if (r.event.type !== "workspace.delete") throw new Error("narrowing");
  assert.equal(r.event.data.generation, 4);
  const bad = parseEvent(
    workspaceEvents,
    "deployment.delete",
    "5",
    JSON.stringify({ name: "x", generation: 0 }),
  );
  assert.equal(bad.ok, false);
});
