import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { observeFlink } from "./observe.ts";
import { FlinkRestClient } from "./rest.ts";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let server: Server;
let base: string;
let handler: Handler = (_req, _body, res) => res.writeHead(500).end();
const seen: Array<{ method: string; url: string; body: string }> = [];

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const json = (res: ServerResponse, status: number, value: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));

function flinkLike(job: { state: string } | undefined): Handler {
  return (req, _b, res) => {
    if (req.url === "/overview")
      return json(res, 200, { taskmanagers: 2, "slots-total": 4, "slots-available": 1 });
    if (req.url === "/jobs/overview")
      return json(res, 200, {
        jobs: job ? [{ jid: "abc", state: job.state, "start-time": 1_700_000_000_000 }] : [],
      });
    if (req.url === "/jobs/abc")
      return json(res, 200, {
        jid: "abc",
        state: job?.state,
        vertices: [{ parallelism: 1 }, { parallelism: 3 }],
      });
    json(res, 404, { errors: ["Not found: /x"] });
  };
}

test("observeFlink reads job id, state, parallelism, TaskManagers and slots", async () => {
  handler = flinkLike({ state: "RUNNING" });
  const obs = await observeFlink(new FlinkRestClient({ baseUrl: base, timeoutMs: 1000 }));
  assert.deepEqual(obs.job, {
    state: "RUNNING",
    id: "abc",
    startTime: "2023-11-14T22:13:20.000Z",
    parallelism: 3,
  });
  assert.equal(obs.taskManagers, 2);
  assert.deepEqual(obs.slots, { total: 4, available: 1 });
});

test("a JobManager without a job is NOT_FOUND, not RUNNING", async () => {
  handler = flinkLike(undefined);
  const obs = await observeFlink(new FlinkRestClient({ baseUrl: base, timeoutMs: 1000 }));
  assert.equal(obs.job.state, "NOT_FOUND");
});

test("404 is notFound; a refused connection and a timeout are unreachable", async () => {
  handler = (_r, _b, res) => json(res, 404, { errors: ["Job could not be found."] });
  const c = new FlinkRestClient({ baseUrl: base, timeoutMs: 1000 });
  const nf = await c.job("nope");
  assert.equal(nf.kind, "notFound");
  assert.match(nf.kind === "notFound" ? nf.message : "", /could not be found/);

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = new FlinkRestClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1000 });
  const r = await refused.overview();
  assert.equal(r.kind, "unreachable");
  assert.match(r.kind === "unreachable" ? r.message : "", /ECONNREFUSED/);
  assert.equal((await observeFlink(refused)).job.state, "UNREACHABLE");

  handler = () => {}; // never answers
  const slow = new FlinkRestClient({ baseUrl: base, timeoutMs: 150 });
  const started = Date.now();
  const t = await slow.overview();
  assert.equal(t.kind, "unreachable");
  assert.match(t.kind === "unreachable" ? t.message : "", /timed out/);
  assert.ok(Date.now() - started < 2000);
});

test("a 500 is an error with Flink's message", async () => {
  handler = (_r, _b, res) =>
    json(res, 500, { errors: ["Internal server error.", "<Exception on server side:\nboom"] });
  const r = await new FlinkRestClient({ baseUrl: base, timeoutMs: 1000 }).jobs();
  assert.equal(r.kind, "error");
  assert.equal(r.kind === "error" && r.status, 500);
  assert.match(r.kind === "error" ? r.message : "", /Internal server error/);
});

test("stop-with-savepoint, savepoint and cancel send what Flink expects", async () => {
  seen.length = 0;
  handler = (req, _b, res) => {
    if (req.method === "PATCH") return res.writeHead(202).end("{}");
    json(res, 202, { "request-id": "t-1" });
  };
  const c = new FlinkRestClient({ baseUrl: `${base}/`, timeoutMs: 1000 });
  assert.deepEqual(await c.stopWithSavepoint("j1", "file:///sp", "t-1"), { kind: "ok", value: "t-1" });
  assert.deepEqual(await c.triggerSavepoint("j1", "file:///sp", "t-2"), { kind: "ok", value: "t-1" });
  assert.deepEqual(await c.cancel("j1"), { kind: "ok", value: undefined });
  await c.stopWithSavepoint("j1", undefined, "t-3");
  assert.deepEqual(
    seen.map((s) => [s.method, s.url, s.body ? JSON.parse(s.body) : undefined]),
    [
      ["POST", "/jobs/j1/stop", { targetDirectory: "file:///sp", drain: false, triggerId: "t-1" }],
      [
        "POST",
        "/jobs/j1/savepoints",
        { "target-directory": "file:///sp", "cancel-job": false, triggerId: "t-2" },
      ],
      ["PATCH", "/jobs/j1?mode=cancel", undefined],
      ["POST", "/jobs/j1/stop", { drain: false, triggerId: "t-3" }],
    ],
  );
});

test("savepoint status: in progress, completed with location, failed with the innermost cause", async () => {
  const c = new FlinkRestClient({ baseUrl: base, timeoutMs: 1000 });
  handler = (_r, _b, res) => json(res, 200, { status: { id: "IN_PROGRESS" } });
  assert.deepEqual(await c.savepointStatus("j", "t"), { kind: "ok", value: { status: "IN_PROGRESS" } });
  handler = (_r, _b, res) =>
    json(res, 200, { status: { id: "COMPLETED" }, operation: { location: "file:/sp/savepoint-1" } });
  assert.deepEqual(await c.savepointStatus("j", "t"), {
    kind: "ok",
    value: { status: "COMPLETED", location: "file:/sp/savepoint-1" },
  });
  handler = (_r, _b, res) =>
    json(res, 200, {
      status: { id: "COMPLETED" },
      operation: {
        "failure-cause": {
          class: "java.util.concurrent.CompletionException",
          "stack-trace":
            "java.util.concurrent.CompletionException: x\n\tat a.b\nCaused by: org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint expired before completing.\n\tat c.d",
        },
      },
    });
  const failed = await c.savepointStatus("j", "t");
  assert.deepEqual(failed, {
    kind: "ok",
    value: {
      status: "FAILED",
      message:
        "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint expired before completing.",
    },
  });
});
