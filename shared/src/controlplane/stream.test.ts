import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import { workspaceEvents } from "@meridian/shared/protocol/index";
import { deploymentSpecInput } from "../protocol/deployment-spec.testutil.ts";
import { jsonError, sleep, sseEvent, sseHead, startFakeServer, until } from "./fake-server.testutil.ts";
import { StreamClient, type StreamClientOptions } from "./stream.ts";
import type { StreamClientEvents } from "./stream-events.ts";
import type { TokenSource } from "./token-source.ts";

type Ev = StreamClientEvents<typeof workspaceEvents>;
const dep = (name: string, generation = 1) => deploymentSpecInput({ name, generation, image: "flink:2.1" });
const snapshot = (id: string, names: string[] = []) => ({
  id,
  event: "snapshot",
  data: { workspaceId: "w1", deployments: names.map((n) => dep(n)) },
});

function record(client: StreamClient<typeof workspaceEvents>) {
  const log: { name: keyof Ev; arg: Ev[keyof Ev][0] }[] = [];
  const on = client.on.bind(client) as (name: keyof Ev, fn: (arg: Ev[keyof Ev][0]) => void) => void;
  for (const name of ["connected", "snapshot", "event", "rejected", "disconnected", "fatal"] as const)
    on(name, (arg) => log.push({ name, arg }));
  return log;
}

async function setup(
  t: import("node:test").TestContext,
  opts: Partial<StreamClientOptions<typeof workspaceEvents>> = {},
  tokens?: TokenSource,
) {
  const srv = await startFakeServer();
  const client = new StreamClient({
    endpoint: srv.endpoint(tokens),
    path: "/v1/workspaces/w1/stream",
    events: workspaceEvents,
    backoff: { baseMs: 20, capMs: 100, floorMs: 5 },
    ...opts,
  });
  const log = record(client);
  t.after(async () => {
    await client.stop();
    await srv.close();
  });
  return { srv, client, log };
}

test("delivers a snapshot then deltas, sends protocol headers, tracks the last id", async (t) => {
  const { srv, client, log } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, snapshot("5", ["a"]));
    sseEvent(res, { id: "6", event: "deployment.upsert", data: { deployment: dep("b") } });
    sseEvent(res, { id: "7", event: "deployment.delete", data: { name: "a" } });
  });
  client.start();
  await until(() => log.some((e) => e.name === "event" && (e.arg as Ev["event"][0]).event.id === "7"));
  assert.deepEqual(
    log.map((e) => e.name),
    ["connected", "snapshot", "event", "event"],
  );
  assert.equal(client.lastEventId, "7");
  const h = srv.seen[0]!.headers;
  assert.equal(h.authorization, "Bearer test-token-0123456789");
  assert.equal(h["meridian-protocol-version"], "1");
  assert.equal(h["last-event-id"], undefined);
});

test("redials after the server ends the stream, resuming with Last-Event-ID", async (t) => {
  const { srv, client, log } = await setup(t);
  srv.handle((req, res) => {
    sseHead(res);
    if (!req.headers["last-event-id"]) sseEvent(res, snapshot("3"));
    else sseEvent(res, { id: "4", event: "deployment.delete", data: { name: "x" } });
    res.end();
  });
  client.start();
  await until(() => client.lastEventId === "4");
  assert.equal(srv.seen[1]!.headers["last-event-id"], "3");
  const disc = log.find((e) => e.name === "disconnected")!.arg as Ev["disconnected"][0];
  assert.equal(disc.kind, "retry");
  assert.ok(disc.retryInMs <= 100);
});

test("an invalid event is rejected, counted and skipped; the stream goes on", async (t) => {
  const { srv, client, log } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, snapshot("1"));
    sseEvent(res, {
      id: "2",
      event: "deployment.upsert",
      data: { deployment: { ...dep("a"), parallelism: 0 } },
    });
    sseEvent(res, { id: "3", event: "deployment.explode", data: {} });
    sseEvent(res, { id: "4", event: "deployment.upsert", data: "{not json" });
    sseEvent(res, { event: "deployment.delete", data: { name: "no-id" } });
    sseEvent(res, { id: "x9", event: "deployment.delete", data: { name: "bad-id" } });
    sseEvent(res, { id: "3", event: "deployment.delete", data: { name: "old-id" } });
    sseEvent(res, { id: "5", event: "deployment.delete", data: { name: "fine" } });
  });
  client.start();
  await until(() => client.lastEventId === "5");
  const rejected = log.filter((e) => e.name === "rejected").map((e) => e.arg as Ev["rejected"][0]);
  assert.deepEqual(
    rejected.map((r) => r.id),
    ["2", "3", "4", undefined, "x9", "3"],
  );
  assert.match(rejected[0]!.error, /deployment\.parallelism/);
  assert.match(rejected[1]!.error, /unknown event type "deployment.explode"/);
  assert.match(rejected[2]!.error, /not valid JSON/);
  assert.match(rejected[3]!.error, /no new id/);
  assert.match(rejected[4]!.error, /not a decimal number/);
  assert.match(rejected[5]!.error, /not after the last event id 4/);
  const r = client.rejectedEvents;
  assert.equal(r.count, 6);
  assert.equal(r.last?.eventId, "3");
  const delivered = log.filter((e) => e.name === "event").map((e) => (e.arg as Ev["event"][0]).event.id);
  assert.deepEqual(delivered, ["5"]);
});

test("a snapshot with a refused item is delivered with the rest; the item and a refuse() are counted", async (t) => {
  const { srv, client, log } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, {
      id: "8",
      event: "snapshot",
      data: { workspaceId: "w1", deployments: [dep("a"), { ...dep("b"), parallelism: 0 }] },
    });
  });
  client.start();
  await until(() => log.some((e) => e.name === "snapshot"));
  const snap = (log.find((e) => e.name === "snapshot")!.arg as Ev["snapshot"][0]).event;
  assert.deepEqual(
    snap.data.deployments.map((d) => d.name),
    ["a"],
  );
  assert.equal(snap.data.refused[0]?.key, "b");
  const rejected = log.filter((e) => e.name === "rejected").map((e) => e.arg as Ev["rejected"][0]);
  assert.deepEqual(
    rejected.map((r) => [r.type, r.id]),
    [["snapshot", "8"]],
  );
  assert.match(rejected[0]!.error, /deployments\.1\.parallelism/);
  client.refuse("deployment.upsert", "9", 'deployment "a": generation 1 is older than generation 2');
  assert.equal(client.rejectedEvents.count, 2);
  assert.match(client.rejectedEvents.last?.error ?? "", /older than generation 2/);
  assert.equal(log.filter((e) => e.name === "rejected").length, 2);
});

test("a silent stream is torn down by the watchdog and redialled", async (t) => {
  const { srv, client, log } = await setup(t, { staleAfterMs: 200 });
  srv.handle((req, res) => {
    sseHead(res);
    if (!req.headers["last-event-id"]) sseEvent(res, snapshot("1"));
    // then silence: no keep-alive
  });
  client.start();
  await until(() => srv.seen.length >= 2, 3000, "a redial");
  const disc = log.find((e) => e.name === "disconnected")!.arg as Ev["disconnected"][0];
  assert.match(disc.reason, /no byte and no keep-alive/);
});

test("keep-alive comments keep a quiet stream alive", async (t) => {
  const { srv, client } = await setup(t, { staleAfterMs: 200 });
  const timers: NodeJS.Timeout[] = [];
  t.after(() => timers.forEach(clearInterval));
  srv.handle((_req, res: ServerResponse) => {
    sseHead(res);
    sseEvent(res, snapshot("1"));
    timers.push(setInterval(() => res.write(": keep-alive\n\n"), 50));
  });
  client.start();
  await sleep(700);
  assert.equal(srv.seen.length, 1);
});

test("a 401 refreshes the credential and retries once quickly; a second 401 backs off", async (t) => {
  let refreshes = 0;
  const tokens: TokenSource = {
    token: async () => `tok-${refreshes}-0123456789`,
    refresh: async () => void refreshes++,
  };
  const { srv, client, log } = await setup(
    t,
    { quickRetryMs: 10, backoff: { baseMs: 400, capMs: 400, floorMs: 400 } },
    tokens,
  );
  srv.handle((_req, res) => jsonError(res, 401, "unauthorized", "expired"));
  client.start();
  await until(() => srv.seen.length >= 2);
  await sleep(200);
  assert.equal(srv.seen.length, 2, "the second 401 waits for the normal backoff");
  assert.equal(refreshes, 1, "refreshed before the redial");
  assert.deepEqual(
    srv.seen.map((s) => s.headers.authorization),
    ["Bearer tok-0-0123456789", "Bearer tok-1-0123456789"],
  );
  const delays = log
    .filter((e) => e.name === "disconnected")
    .map((e) => (e.arg as Ev["disconnected"][0]).retryInMs);
  assert.deepEqual(delays, [10, 400]);
  await until(() => srv.seen.length >= 3, 2000, "the backed-off third dial");
  assert.equal(refreshes, 2, "refreshed again before it");
});

test("the refused token is handed to refresh(), and a new credential ends the back-off after a 401", async (t) => {
  let n = 0;
  const refused: (string | undefined)[] = [];
  const tokens: TokenSource = {
    token: async () => `tok-${n}-0123456789`,
    refresh: async (token) => void refused.push(token),
  };
  const { srv, client } = await setup(
    t,
    { quickRetryMs: 10, backoff: { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 } },
    tokens,
  );
  srv.handle((_req, res) => jsonError(res, 401, "unauthorized", "revoked"));
  client.start();
  await until(() => srv.seen.length >= 2);
  await sleep(100);
  assert.equal(srv.seen.length, 2, "the second 401 waits a minute");
  assert.deepEqual(refused, ["tok-0-0123456789"], "refresh() learns which token the 401 answered");
  client.credentialChanged();
  client.credentialChanged();
  n = 1;
  await until(() => srv.seen.length >= 3, 2000, "the dial the new credential brings forward");
  await sleep(100);
  assert.equal(srv.seen.length, 3, "once: a second call while dialling changes nothing");
});

test("403 emits fatal and waits the long backoff", async (t) => {
  const { srv, client, log } = await setup(t, { fatalBackoffMs: 60_000 });
  srv.handle((_req, res) => jsonError(res, 403, "forbidden", "workspace w2 token on w1"));
  client.start();
  await until(() => log.some((e) => e.name === "fatal"));
  await sleep(300);
  assert.equal(srv.seen.length, 1);
  const fatal = log.find((e) => e.name === "fatal")!.arg as Ev["fatal"][0];
  assert.match(fatal.reason, /forbidden: workspace w2 token on w1/);
  assert.ok(fatal.retryInMs >= 48_000);
});

test("stop() closes the stream and no redial follows", async (t) => {
  const { srv, client } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, snapshot("1"));
  });
  client.start();
  await until(() => client.lastEventId === "1");
  await client.stop();
  assert.equal(client.running, false);
  await sleep(150);
  assert.equal(srv.seen.length, 1);
});

test("a subscriber that throws does not break the stream", async (t) => {
  const { srv, client } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, snapshot("1"));
    sseEvent(res, { id: "2", event: "deployment.delete", data: { name: "a" } });
  });
  client.on("snapshot", () => {
    throw new Error("subscriber bug");
  });
  client.start();
  await until(() => client.lastEventId === "2");
  assert.equal(srv.seen.length, 1);
});

test("a stream answered in another protocol version is fatal, not retried quickly", async (t) => {
  const { srv, client, log } = await setup(t, { fatalBackoffMs: 60_000 });
  srv.handle((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "meridian-protocol-version": "2" });
    res.flushHeaders();
  });
  client.start();
  const fatal = (await until(() => log.find((e) => e.name === "fatal"))).arg as Ev["fatal"][0];
  assert.match(fatal.reason, /speaks protocol version 2, this agent speaks 1/);
  await sleep(200);
  assert.equal(srv.seen.length, 1);
});

test("a dial that never gets an answer is cut by the watchdog too", async (t) => {
  const { srv, client, log } = await setup(t, { staleAfterMs: 150 });
  srv.handle(() => {
    // accept the request, never answer
  });
  client.start();
  await until(() => srv.seen.length >= 2, 3000, "a second dial");
  const disc = log.find((e) => e.name === "disconnected")!.arg as Ev["disconnected"][0];
  assert.match(disc.reason, /no byte and no keep-alive/);
  assert.equal(log.filter((e) => e.name === "connected").length, 0);
});

test("stop() then start() while a dial awaits its token makes exactly one connection", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const tokens: TokenSource = {
    token: async () => {
      await gate;
      return "slow-token-0123456789";
    },
  };
  const { srv, client } = await setup(t, {}, tokens);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, snapshot("1"));
  });
  client.start();
  await sleep(20);
  await client.stop();
  client.start();
  release();
  await until(() => client.lastEventId === "1");
  await sleep(100);
  assert.equal(srv.seen.length, 1);
});
