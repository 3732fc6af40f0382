// Disposing of a savepoint through Flink's REST API (actions.ts, rest.ts) against a loopback server
// that answers like Flink's `/savepoint-disposal`: done, already gone, refused, too slow.
import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { type ActionContext, execute } from "./actions.ts";
import { FlinkRestClient } from "./rest.ts";

let server: Server;
let base: string;
/** What `GET /savepoint-disposal/:id` answers, per request. */
let answers: unknown[] = [];
const requests: Array<{ method: string; url: string; body: string }> = [];

const json = (res: ServerResponse, status: number, value: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", body });
      if (req.method === "POST" && req.url === "/savepoint-disposal")
        return json(res, 202, { "request-id": "d1" });
      if (req.method === "GET" && req.url === "/savepoint-disposal/d1")
        return json(res, 200, answers.length > 1 ? answers.shift() : answers[0]);
      json(res, 404, { errors: ["Not found"] });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const ctx = (): ActionContext => ({
  client: {} as never,
  namespace: "ns",
  workspaceId: "ws",
  deployment: "orders",
  rest: new FlinkRestClient({ baseUrl: base, timeoutMs: 1000 }),
  pods: () => [],
  disposalWaitMs: 500,
});
const LOCATION = "s3://b/workspaces/ws/orders/savepoints/savepoint-abc-123";
const dispose = () => execute({ type: "disposeSavepoint", location: LOCATION }, ctx());
const failed = (trace: string) => ({
  status: { id: "COMPLETED" },
  operation: { "failure-cause": { class: "java.io.IOException", "stack-trace": trace } },
});

test("a disposal POSTs the savepoint path and waits until Flink says it completed", async () => {
  requests.length = 0;
  answers = [{ status: { id: "IN_PROGRESS" } }, { status: { id: "COMPLETED" }, operation: {} }];
  assert.deepEqual(await dispose(), { type: "disposed", alreadyGone: false });
  assert.deepEqual(JSON.parse(requests[0]?.body ?? ""), { "savepoint-path": LOCATION });
  assert.equal(requests.filter((r) => r.method === "GET").length, 2);
});

test("a savepoint already gone counts as disposed; any other failure is a failure naming Flink's cause", async () => {
  answers = [
    failed(
      "org.apache.flink.util.FlinkException: Could not dispose\nCaused by: java.io.FileNotFoundException: Cannot find meta data file '_metadata' in directory",
    ),
  ];
  assert.deepEqual(await dispose(), { type: "disposed", alreadyGone: true });
  answers = [
    failed(
      "org.apache.flink.util.FlinkException: x\nCaused by: java.nio.file.AccessDeniedException: s3://b/x: 403",
    ),
  ];
  assert.deepEqual(await dispose(), {
    type: "failed",
    message: "java.nio.file.AccessDeniedException: s3://b/x: 403",
  });
});

test("a disposal that does not finish in time fails (tried again later); no JobManager is unreachable", async () => {
  answers = [{ status: { id: "IN_PROGRESS" } }];
  const r = await dispose();
  assert.equal(r.type, "failed");
  assert.match(r.type === "failed" ? r.message : "", /did not finish within 0.5 s/);
  const none = await execute({ type: "disposeSavepoint", location: LOCATION }, { ...ctx(), rest: undefined });
  assert.equal(none.type, "unreachable");
});
