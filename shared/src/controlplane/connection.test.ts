import assert from "node:assert/strict";
import { test } from "node:test";
import { Connection, type ConnectionHandlers } from "./connection.ts";
import { jsonError, sleep, sseEvent, sseHead, startFakeServer, until } from "./fake-server.testutil.ts";

function handlers() {
  const seen = { open: 0, messages: [] as [string, string, string][], ends: [] as Error[] };
  const h: ConnectionHandlers = {
    onOpen: () => void seen.open++,
    onMessage: (type, id, data) => void seen.messages.push([type, id, data]),
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

test("onEnd is called exactly once with the server's error; EventSource never redials by itself", async (t) => {
  const { srv, open } = await setup(t);
  srv.handle((_req, res) => jsonError(res, 503, "unavailable", "maintenance"));
  const { seen } = open(undefined);
  await until(() => seen.ends.length === 1);
  await sleep(3200); // EventSource's own reconnect interval is 3 s
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
