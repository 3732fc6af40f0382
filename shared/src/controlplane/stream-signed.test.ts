// The stream client with signing keys pinned: verification comes before parsing, a badly signed
// snapshot item is moved to the snapshot's refused items (the others apply), a refused event is
// reported with its signature refusal and does not advance the id to resume from.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { workspaceEvents } from "@meridian/shared/protocol/index";
import { signEventData } from "@meridian/shared/protocol/signing";
import { silentLogger } from "../log.ts";
import { deploymentSpecInput } from "../protocol/deployment-spec.testutil.ts";
import { sseEvent, sseHead, startFakeServer, until } from "./fake-server.testutil.ts";
import { MarkGate, type ReplayMark } from "./replay-mark.ts";
import { StreamClient } from "./stream.ts";
import type { StreamClientEvents } from "./stream-events.ts";
import { PinnedKeys } from "./verify.ts";

type Ev = StreamClientEvents<typeof workspaceEvents>;
const PATH = "/v1/workspaces/w1/stream";
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const dep = (name: string, generation = 1) => deploymentSpecInput({ name, generation, image: "flink:2.1" });
const sign = (type: string, id: string, data: Record<string, unknown>) =>
  signEventData(privateKey, { stream: PATH, type, id }, data);

test("a signed snapshot with one altered item applies the others; a refused delta does not move the resume id", async (t) => {
  const srv = await startFakeServer();
  const client = new StreamClient({
    endpoint: srv.endpoint(),
    path: PATH,
    events: workspaceEvents,
    signingKeys: new PinnedKeys([publicKey]),
  });
  t.after(async () => {
    await client.stop();
    await srv.close();
  });
  const snapshots: Ev["snapshot"][0][] = [];
  const rejected: Ev["rejected"][0][] = [];
  const deltas: Ev["event"][0][] = [];
  client.on("snapshot", (e) => snapshots.push(e));
  client.on("rejected", (e) => rejected.push(e));
  client.on("event", (e) => deltas.push(e));
  srv.handle((_req, res) => {
    sseHead(res);
    const snap = sign("snapshot", "5", {
      workspaceId: "w1",
      deployments: [dep("bad-schema"), dep("a"), dep("b"), dep("c")],
    });
    const items = snap.deployments as Record<string, unknown>[];
    (items[0] as { parallelism: unknown }).parallelism = "many"; // invalid and, now, badly signed
    (items[2] as { parallelism: number }).parallelism = 64; // altered on the way
    sseEvent(res, { id: "5", event: "snapshot", data: snap });
    const upsert = sign("deployment.upsert", "6", { deployment: dep("a", 2) });
    (upsert.deployment as { image: string }).image = "evil.example/flink:2.1";
    sseEvent(res, { id: "6", event: "deployment.upsert", data: upsert });
    sseEvent(res, { id: "7", event: "deployment.upsert", data: { deployment: dep("a", 3) } });
  });
  client.start();
  await until(() => rejected.length === 4, 5000, "four refusals");
  const s = snapshots[0]?.event.data;
  assert.deepEqual(
    s?.deployments.map((d) => d.name),
    ["a", "c"],
  );
  assert.deepEqual(s?.refused.map((r) => [r.index, r.key, r.reason]).sort(), [
    [0, "bad-schema", "SignatureInvalid"],
    [2, "b", "SignatureInvalid"],
  ]);
  assert.deepEqual(
    rejected.map((r) => [r.id, r.signature?.reason, r.signature?.key]),
    [
      ["5", "SignatureInvalid", "bad-schema"],
      ["5", "SignatureInvalid", "b"],
      ["6", "SignatureInvalid", "a"],
      ["7", "SignatureMissing", "a"],
    ],
  );
  assert.equal(deltas.length, 0);
  assert.equal(client.lastEventId, "5", "refused events do not move the id to resume from");
  assert.equal(client.rejectedEvents.count, 4);
});

test("without pinned keys nothing is verified and the signature members are ignored", async (t) => {
  const srv = await startFakeServer();
  const client = new StreamClient({ endpoint: srv.endpoint(), path: PATH, events: workspaceEvents });
  t.after(async () => {
    await client.stop();
    await srv.close();
  });
  const deltas: Ev["event"][0][] = [];
  client.on("event", (e) => deltas.push(e));
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, {
      id: "1",
      event: "snapshot",
      data: sign("snapshot", "1", { workspaceId: "w1", deployments: [] }),
    });
    sseEvent(res, { id: "2", event: "deployment.upsert", data: { deployment: dep("a") } });
  });
  client.start();
  await until(() => deltas.length === 1, 5000, "the unsigned upsert");
  assert.equal(client.rejectedEvents.count, 0);
});

test("a stream whose mark cannot be stored holds at most maxHeld events, resumes after the last one held, and later applies every event once", async (t) => {
  const srv = await startFakeServer();
  const saved: ReplayMark[] = [];
  let failing = true;
  const store = {
    where: "test store",
    load: async () => saved.at(-1),
    save: async (m: ReplayMark) => {
      if (failing) throw new Error("API server unavailable");
      saved.push(m);
    },
  };
  const client = new StreamClient({
    endpoint: srv.endpoint(),
    path: PATH,
    events: workspaceEvents,
    signingKeys: new PinnedKeys([publicKey]),
    replayMarks: store,
    backoff: { baseMs: 20, capMs: 50, floorMs: 10 },
  });
  const stopped = new AbortController();
  const gate = new MarkGate({
    store,
    newest: () => client.acceptedMark,
    stored: () => client.loadedMark,
    signal: stopped.signal,
    logger: silentLogger(),
    maxHeld: 3,
    resumeAfter: (at, reason) => client.resumeAfter(at, reason),
  });
  t.after(async () => {
    stopped.abort();
    await client.stop();
    await srv.close();
  });
  const applied: (string | undefined)[] = [];
  client.on("snapshot", ({ event }) => gate.submit(true, () => applied.push(event.id)));
  client.on("event", ({ event }) => gate.submit(true, () => applied.push(event.id)));
  const resumedFrom: (string | undefined)[] = [];
  srv.handle((req, res) => {
    const from = req.headers["last-event-id"] as string | undefined;
    resumedFrom.push(from);
    if (resumedFrom.length >= 3) failing = false;
    sseHead(res);
    if (from === undefined)
      sseEvent(res, {
        id: "1",
        event: "snapshot",
        data: sign("snapshot", "1", { workspaceId: "w1", deployments: [] }),
      });
    for (let id = Number(from ?? 1) + 1; id <= 10; id++)
      sseEvent(res, {
        id: String(id),
        event: "deployment.upsert",
        data: sign("deployment.upsert", String(id), { deployment: dep("a", id) }),
      });
  });
  client.start();
  await until(() => applied.length === 10, 10_000, "all ten events applied");
  assert.deepEqual(resumedFrom.slice(0, 3), [undefined, "3", "3"], "resumed after the last event held");
  assert.deepEqual(applied, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
  assert.ok(gate.dropped >= 2);
  assert.equal(client.rejectedEvents.count, 0, "the events sent again are not refused as replays");
});
