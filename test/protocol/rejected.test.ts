// Malformed and unknown events injected by the real reference control plane: each is rejected
// (typed event, counter in the protocol's rejectedEvents shape), nothing is applied, the stream
// stays up, Last-Event-ID moves past it, and the next valid event arrives.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentStream } from "@meridian/shared/controlplane/index";
import { rejectedEvents } from "@meridian/shared/protocol/index";
import { type Harness, Recorder, startHarness, until, WORKSPACE } from "./support.ts";

let h: Harness;
before(async () => {
  h = await startHarness({ keepAliveMs: 200 });
});
after(() => h.cleanup());

test("malformed and unknown events are rejected; the stream continues with the next valid one", async (t) => {
  const { token } = await h.cp.admin.createAgent("rej");
  const c = agentStream(h.endpoint(token), "rej");
  const rec = new Recorder(c as never);
  const applied: string[] = [];
  c.on("event", ({ event }) => applied.push(event.type));
  t.after(() => c.stop());
  c.start();
  await rec.waitFor((e) => e.name === "snapshot");

  const bad = [
    ["workspace.upsert", "{not json"],
    ["workspace.upsert", JSON.stringify({ workspace: { id: "Bad_Id", generation: 1, quota: { cpu: "1" } } })],
    ["workspace.explode", "{}"],
    ["workspace.delete", JSON.stringify({})],
  ] as const;
  const ids: string[] = [];
  for (const [event, data] of bad) {
    const r = await h.cp.admin.faults.injectEvent("agent", "rej", event, data);
    ids.push(String(r.eventId));
  }
  const put = await h.cp.admin.putWorkspace("rej", "rej-ok", WORKSPACE);
  await until(() => c.lastEventId === put.eventId, 3000, "the valid event after the bad ones");

  const rejected = rec.of("rejected");
  assert.deepEqual(
    rejected.map((r) => [r.type, r.id]),
    bad.map(([event], i) => [event, ids[i]]),
  );
  assert.match(String(rejected[0]!.error), /not valid JSON/);
  assert.match(String(rejected[1]!.error), /workspace\.id/);
  assert.match(String(rejected[1]!.error), /workspace\.quota\.memory/);
  assert.match(String(rejected[2]!.error), /unknown event type "workspace.explode"/);
  assert.match(String(rejected[3]!.error), /\bid\b/);
  assert.deepEqual(applied, ["workspace.upsert"], "only the valid event was applied");
  assert.equal(rec.of("disconnected").length, 0, "the stream stayed up");

  const summary = rejectedEvents.parse(c.rejectedEvents);
  assert.equal(summary.count, 4);
  assert.equal(summary.last?.eventId, ids[3]);
  assert.equal(summary.last?.eventType, "workspace.delete");
});
