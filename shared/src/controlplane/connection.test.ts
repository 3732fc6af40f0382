import assert from "node:assert/strict";
import { test } from "node:test";
import { Connection, type ConnectionHandlers } from "./connection.ts";
import { jsonError, sleep, sseEvent, sseHead, startFakeServer, until } from "./fake-server.testutil.ts";

function handlers() {
  const seen = {
    open: 0,
    messages: [] as [string, string | undefined, string][],
    refused: [] as [string, string | undefined, string][],
    ends: [] as Error[],
  };
  const h: ConnectionHandlers = {
    onOpen: () => void seen.open++,
    onMessage: (type, id, data) => void seen.messages.push([type, id, data]),
    onRefused: (type, id, reason) => void seen.refused.push([type, id, reason]),
    onEnd: (cause) => void seen.ends.push(cause),
  };
  return { seen, h };
}

async function setup(t: import("node:test").TestContext) {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  const open = (lastEventId: string | undefined, staleAfterMs = 5000) => {
    const { seen, h } = handlers();
    const c = new Connection(
      {
        id: "c1",
        url: `${srv.url}/s`,
        dispatcher: srv.endpoint().dispatcher,
        token: "conn-token-0123456789",
        lastEventId,
        staleAfterMs,
      },
      h,
    );
    t.after(() => c.close());
    return { c, seen };
  };
  return { srv, open };
}

test("sends Last-Event-ID and the protocol headers; hands every event type through", async (t) => {
  const { srv, open } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, { id: "8", event: "anything.at.all", data: { a: 1 } });
  });
  const { seen } = open("7");
  await until(() => seen.messages.length === 1);
  assert.equal(seen.open, 1);
  assert.deepEqual(seen.messages[0], ["anything.at.all", "8", '{"a":1}']);
  assert.equal(srv.seen[0]!.headers["last-event-id"], "7");
  assert.equal(srv.seen[0]!.headers.accept, "text/event-stream");
});

test("onEnd is called exactly once with the server's error; nothing redials by itself", async (t) => {
  const { srv, open } = await setup(t);
  srv.handle((_req, res) => jsonError(res, 503, "unavailable", "maintenance"));
  const { seen } = open(undefined);
  await until(() => seen.ends.length === 1);
  await sleep(3200); // an EventSource would have reconnected after 3 s
  assert.equal(seen.ends.length, 1);
  assert.equal(srv.seen.length, 1);
  assert.match(seen.ends[0]!.message, /http 503 unavailable: maintenance/);
});

test("close() aborts the request; settled resolves and onEnd is not called", async (t) => {
  const { srv, open } = await setup(t);
  srv.handle((_req, res) => sseHead(res));
  const { c, seen } = open(undefined);
  await until(() => seen.open === 1);
  c.close();
  await c.settled;
  await sleep(50);
  assert.equal(seen.ends.length, 0);
});

test("a broken-off stream ends the connection with a cause", async (t) => {
  const { srv, open } = await setup(t);
  srv.handle((_req, res) => {
    sseHead(res);
    res.write('id: 1\nevent: x\ndata: {"half');
    setTimeout(() => res.destroy(), 20);
  });
  const { c, seen } = open(undefined);
  await until(() => seen.ends.length === 1);
  assert.equal(seen.messages.length, 0, "the half event is never handed out");
  await c.settled;
});

test("a redirect on the stream is not followed: the connection ends naming the Location", async (t) => {
  const { srv, open } = await setup(t);
  const elsewhere = await startFakeServer();
  t.after(() => elsewhere.close());
  elsewhere.handle((_req, res) => {
    sseHead(res);
    sseEvent(res, { id: "1", event: "snapshot", data: { workspaces: [] } });
  });
  srv.handle((_req, res) => {
    res.writeHead(307, { location: `${elsewhere.url}/s` }).end();
  });
  const { seen } = open(undefined);
  await until(() => seen.ends.length === 1);
  assert.equal(seen.open, 0);
  assert.match(
    seen.ends[0]!.message,
    /http 307, a redirect to "http:\/\/127\.0\.0\.1:\d+\/s"; .*never followed/,
  );
  assert.equal(elsewhere.seen.length, 0);
});

test("an event over its size limit is refused unread and the stream goes on", async (t) => {
  const { srv, open } = await setup(t);
  srv.handle(async (_req, res) => {
    sseHead(res);
    res.write("id: 2\nevent: workspace.upsert\ndata: ");
    const mib = Buffer.alloc(1024 * 1024, "x");
    for (let i = 0; i < 10; i++) if (!res.write(mib)) await new Promise((r) => res.once("drain", r));
    res.write("\n\n");
    sseEvent(res, { id: "3", event: "workspace.delete", data: { id: "a" } });
  });
  const { seen } = open(undefined);
  await until(() => seen.messages.length === 1, 10_000);
  assert.deepEqual(seen.refused, [
    [
      "workspace.upsert",
      "2",
      'event "workspace.upsert" exceeds the 1 MiB limit of one event; its data was skipped unread',
    ],
  ]);
  assert.deepEqual(seen.messages, [["workspace.delete", "3", '{"id":"a"}']]);
  assert.equal(seen.ends.length, 0);
});

test("an answer that is not an event stream ends the connection with the reason", async (t) => {
  const { srv, open } = await setup(t);
  srv.handle((_req, res) => {
    res.writeHead(200, { "content-type": "text/html", "meridian-protocol-version": "1" }).end("<html>");
  });
  const { seen } = open(undefined);
  await until(() => seen.ends.length === 1);
  assert.match(seen.ends[0]!.message, /the answer is "text\/html", not text\/event-stream/);
  assert.equal(seen.open, 0);
});
