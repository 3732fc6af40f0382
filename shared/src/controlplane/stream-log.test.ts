import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger } from "@meridian/shared/log";
import { workspaceEvents } from "@meridian/shared/protocol/index";
import { StaticTokenSource } from "./credentials.ts";
import { jsonError, sseEvent, sseHead, startFakeServer, until } from "./fake-server.testutil.ts";
import { StreamClient } from "./stream.ts";

const SECRET = "very-secret-token-0123456789";

test("one warn line per rejected event, an error line per fatal, and never the token", async (t) => {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const logger = createLogger({ component: "test", level: "debug", destination: dest });
  const srv = await startFakeServer();
  let calls = 0;
  srv.handle((_req, res) => {
    if (calls++ > 0) return jsonError(res, 403, "forbidden", "not yours");
    sseHead(res);
    sseEvent(res, { id: "1", event: "snapshot", data: { workspaceId: "w", deployments: [] } });
    sseEvent(res, { id: "2", event: "deployment.explode", data: {} });
    res.end();
  });
  const client = new StreamClient({
    endpoint: srv.endpoint(new StaticTokenSource(SECRET)),
    path: "/s",
    events: workspaceEvents,
    logger,
    backoff: { baseMs: 10, capMs: 20 },
  });
  t.after(async () => {
    await client.stop();
    await srv.close();
  });
  client.start();
  await until(() => lines.some((l) => l.level === "error"));
  await new Promise((r) => setTimeout(r, 50));
  const rejected = lines.filter((l) => String(l.msg).startsWith("event rejected"));
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0]!.level, "warn");
  assert.equal(rejected[0]!.eventType, "deployment.explode");
  assert.match(String(rejected[0]!.reason), /unknown event type/);
  assert.ok(lines.some((l) => l.msg === "snapshot received"));
  const fatal = lines.find((l) => l.level === "error")!;
  assert.match(String(fatal.reason), /403 forbidden: not yours/);
  assert.ok(!JSON.stringify(lines).includes(SECRET), "the token never reaches a log line");
});
