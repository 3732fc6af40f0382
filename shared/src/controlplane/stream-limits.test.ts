// The stream client against answers the reference control plane never gives: redirects, events
// over their size limit, JSON nested past the limit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { agentEvents } from "@meridian/shared/protocol/index";
import { sleep, sseEvent, sseHead, startFakeServer, until } from "./fake-server.testutil.ts";
import { StreamClient } from "./stream.ts";
import type { StreamClientEvents } from "./stream-events.ts";

type Ev = StreamClientEvents<typeof agentEvents>;
const ws = (id: string) => ({ id, generation: 1, quota: { cpu: "1", memory: "1Gi" } });

async function setup(t: import("node:test").TestContext) {
  const srv = await startFakeServer();
  const client = new StreamClient({
    endpoint: srv.endpoint(),
    path: "/v1/agents/a/stream",
    events: agentEvents,
    backoff: { baseMs: 20, capMs: 100, floorMs: 5 },
    fatalBackoffMs: 60_000,
  });
  const rejected: Ev["rejected"][0][] = [];
  const fatal: Ev["fatal"][0][] = [];
  const delivered: string[] = [];
  client.on("rejected", (r) => rejected.push(r));
  client.on("fatal", (f) => fatal.push(f));
  client.on("snapshot", ({ event }) => delivered.push(`${event.type}:${event.id}`));
  client.on("event", ({ event }) => delivered.push(`${event.type}:${event.id}`));
  t.after(async () => {
    await client.stop();
    await srv.close();
  });
  return { srv, client, rejected, fatal, delivered };
}

test("a redirect on the stream is fatal, names the Location, and is not dialled again soon", async (t) => {
  const { srv, client, fatal, delivered } = await setup(t);
  const elsewhere = await startFakeServer();
  t.after(() => elsewhere.close());
  elsewhere.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, { id: "1", event: "snapshot", data: { workspaces: [ws("evil")] } });
  });
  srv.handle((req, res) => {
    res.writeHead(301, { location: `${elsewhere.url}${req.url}` }).end();
  });
  client.start();
  await until(() => fatal.length === 1);
  await sleep(300);
  assert.equal(srv.seen.length, 1, "long backoff: no second dial");
  assert.equal(elsewhere.seen.length, 0, "the other host never saw a request");
  assert.deepEqual(delivered, []);
  assert.match(
    fatal[0]!.reason,
    /http 301, a redirect to "http:\/\/127\.0\.0\.1:\d+\/v1\/agents\/a\/stream"/,
  );
  assert.match(fatal[0]!.reason, /--control-plane-url/);
  assert.ok(fatal[0]!.retryInMs >= 48_000);
});

test("a 10 MB event is refused with its reason, its id is passed, and the next event applies", async (t) => {
  const { srv, client, rejected, delivered } = await setup(t);
  srv.handle(async (_req, res) => {
    sseHead(res);
    sseEvent(res, { id: "1", event: "snapshot", data: { workspaces: [] } });
    const big = JSON.stringify({ workspace: { ...ws("big"), displayName: "x".repeat(10_000_000) } });
    res.write(`id: 2\nevent: workspace.upsert\ndata: ${big}\n\n`);
    sseEvent(res, { id: "3", event: "workspace.upsert", data: { workspace: ws("small") } });
  });
  client.start();
  await until(() => client.lastEventId === "3", 10_000);
  assert.deepEqual(delivered, ["snapshot:1", "workspace.upsert:3"]);
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]!.id, "2");
  assert.match(rejected[0]!.error, /event "workspace.upsert" exceeds the 1 MiB limit of one event/);
  assert.equal(client.rejectedEvents.last?.eventId, "2");
  assert.equal(srv.seen.length, 1, "the stream stayed up");
});

test("JSON nested past the limit is refused without being parsed; a bad id is cut in the status", async (t) => {
  const { srv, client, rejected } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, { id: "1", event: "snapshot", data: { workspaces: [] } });
    const deep = `{"workspace":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    sseEvent(res, { id: "2", event: "workspace.upsert", data: deep });
    sseEvent(res, { id: "9".repeat(500), event: "workspace.delete", data: { id: "a" } });
    sseEvent(res, { id: "4", event: "workspace.delete", data: { id: "a" } });
  });
  client.start();
  await until(() => client.lastEventId === "4");
  assert.match(rejected[0]!.error, /deeper than the limit of 32/);
  assert.match(rejected[1]!.error, /not a decimal number/);
  assert.equal(client.rejectedEvents.count, 2);
  // The status carries at most MAX_EVENT_ID_LENGTH of it (the schema refuses more).
  assert.equal(client.rejectedEvents.last?.eventId, "9".repeat(40));
});
