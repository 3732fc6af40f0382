// The hostile server itself: scripts answer in order and override the defaults, held streams take
// writes as the test goes, enormous bodies go out without being built in memory.
import assert from "node:assert/strict";
import { test } from "node:test";
import { event, startHostileServer } from "./server.ts";

test("scripted answers in order, the last repeating; defaults elsewhere", async (t) => {
  const cp = await startHostileServer();
  t.after(() => cp.close());
  cp.script({ method: "POST", path: /\/status$/ }, [
    { status: 301, headers: { location: "http://127.0.0.1:1/x" } },
    { status: 503, headers: { "meridian-protocol-version": null }, body: ["<html>"] },
  ]);
  const post = () =>
    fetch(`${cp.url}/v1/agents/a/status`, { method: "POST", body: "{}", redirect: "manual" });
  const first = await post();
  assert.equal(first.status, 301);
  assert.equal(first.headers.get("location"), "http://127.0.0.1:1/x");
  for (let i = 0; i < 2; i++) {
    const r = await post();
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("meridian-protocol-version"), null);
    assert.equal(await r.text(), "<html>");
  }
  const cred = await fetch(`${cp.url}/v1/agents/a/workspaces/w%201/credentials`, { method: "POST" });
  assert.equal(((await cred.json()) as { workspaceId: string }).workspaceId, "w 1");
  cp.clearScripts();
  assert.equal((await post()).status, 204);
  assert.deepEqual(cp.statuses, [{ path: "/v1/agents/a/status", body: {} }]);
  assert.equal(cp.requests.length, 5);
});

test("a held stream takes events and repeated megabytes, then ends", async (t) => {
  const cp = await startHostileServer();
  t.after(() => cp.close());
  const opened = cp.nextStream();
  const res = await fetch(`${cp.url}/v1/agents/a/stream`);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const s = await opened;
  const reader = res.body!.getReader();
  await s.send(event({ id: "1", event: "snapshot", data: { workspaces: [] } }));
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.equal(first, 'id: 1\nevent: snapshot\ndata: {"workspaces":[]}\n\n');
  let received = 0;
  const reading = (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (r.done) return;
      received += r.value?.length ?? 0;
    }
  })();
  await s.send({ repeat: Buffer.alloc(1024 * 1024, "x"), times: 4 });
  s.end();
  await reading;
  assert.ok(received >= 4 * 1024 * 1024, `${received} bytes`);
  assert.equal(s.closed, true);
});
