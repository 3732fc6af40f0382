import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { EventRecorder } from "./events.ts";
import { FakeApiServer } from "./fake-apiserver.ts";

let api: FakeApiServer;
before(async () => {
  api = await new FakeApiServer().start();
});
after(() => api.stop());

const deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "meridian-workspace-agent", namespace: "mw-a", uid: "u1" },
};

test("records an event on the object, and aggregates repeats into a count", async () => {
  const client = await api.client();
  let now = 1_000_000;
  const rec = new EventRecorder({ client, component: "meridian-agent", instance: "pod-1", now: () => now });
  await rec.record(deployment, "Normal", "Created", "created Deployment meridian-workspace-agent");
  await rec.record(deployment, "Normal", "Created", "created Deployment meridian-workspace-agent");
  const events = [...api.objects.values()].map((s) => s.obj as Record<string, unknown>);
  assert.equal(events.length, 1);
  const ev = events[0]!;
  assert.equal(ev.count, 2);
  assert.equal(ev.reason, "Created");
  assert.deepEqual((ev.involvedObject as Record<string, unknown>).uid, "u1");
  assert.equal((ev.metadata as Record<string, unknown>).namespace, "mw-a");

  now += 11 * 60_000;
  await rec.record(deployment, "Normal", "Created", "created Deployment meridian-workspace-agent");
  assert.equal(api.objects.size, 2, "outside the window a new Event is created");
  await client.close();
  api.objects.clear();
});

test("a Namespace's events live in default; failures are swallowed", async () => {
  const client = await api.client();
  const rec = new EventRecorder({ client, component: "meridian-agent", instance: "pod-1" });
  await rec.record(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "mw-b" } },
    "Warning",
    "Orphaned",
    "x",
  );
  const ev = [...api.objects.values()][0]!.obj as { metadata: { namespace: string } };
  assert.equal(ev.metadata.namespace, "default");
  api.failNext = { count: 1, status: 500 };
  await rec.record(deployment, "Warning", "Failed", "y");
  await client.close();
  api.objects.clear();
});
