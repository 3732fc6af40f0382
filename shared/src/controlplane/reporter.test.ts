import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonError, sleep, startFakeServer, until } from "./fake-server.testutil.ts";
import { StatusReporter, type StatusReporterEvents } from "./reporter.ts";

type Status = { n: number };
const ok = (res: import("node:http").ServerResponse) =>
  void res.writeHead(204, { "meridian-protocol-version": "1" }).end();

async function setup(
  t: import("node:test").TestContext,
  opts: { debounceMs?: number; heartbeatMs?: number; backoffMs?: number } = {},
) {
  const srv = await startFakeServer();
  const reporter = new StatusReporter<Status>({
    endpoint: srv.endpoint(),
    path: "/v1/agents/a/status",
    debounceMs: opts.debounceMs ?? 30,
    heartbeatMs: opts.heartbeatMs ?? 60_000,
    backoff: { baseMs: opts.backoffMs ?? 50, capMs: opts.backoffMs ?? 50, floorMs: opts.backoffMs ?? 50 },
  });
  const sent: StatusReporterEvents["sent"][0][] = [];
  const failed: StatusReporterEvents["failed"][0][] = [];
  reporter.on("sent", (e) => sent.push(e));
  reporter.on("failed", (e) => failed.push(e));
  t.after(async () => {
    await reporter.stop();
    await srv.close();
  });
  const bodies = () => srv.seen.map((s) => JSON.parse(s.body) as Status);
  return { srv, reporter, sent, failed, bodies };
}

test("a burst of set() becomes one POST of the latest", async (t) => {
  const { srv, reporter, bodies } = await setup(t);
  srv.handle((_req, res) => ok(res));
  for (let n = 1; n <= 50; n++) reporter.set({ n });
  await until(() => srv.seen.length >= 1);
  await sleep(100);
  assert.deepEqual(bodies(), [{ n: 50 }]);
});

test("at most one request in flight; changes during it go out once, after it", async (t) => {
  const { srv, reporter, bodies } = await setup(t);
  let inflight = 0;
  let maxInflight = 0;
  srv.handle(async (_req, res) => {
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    await sleep(150);
    inflight--;
    ok(res);
  });
  reporter.set({ n: 1 });
  await until(() => srv.seen.length === 1);
  for (let n = 2; n <= 20; n++) {
    reporter.set({ n });
    await sleep(3); // all within the 150 ms the first request takes
  }
  await until(() => srv.seen.length === 2, 2000);
  await sleep(300);
  assert.equal(maxInflight, 1);
  assert.deepEqual(bodies(), [{ n: 1 }, { n: 20 }]);
});

test("a heartbeat re-sends the latest when nothing changed", async (t) => {
  const { srv, reporter, sent, bodies } = await setup(t, { heartbeatMs: 100 });
  srv.handle((_req, res) => ok(res));
  reporter.set({ n: 7 });
  await until(() => sent.length >= 3, 2000);
  assert.deepEqual(bodies().slice(0, 3), [{ n: 7 }, { n: 7 }, { n: 7 }]);
  assert.deepEqual(
    sent.slice(0, 3).map((s) => s.heartbeat),
    [false, true, true],
  );
});

test("a failure retries the latest with backoff, never the stale one", async (t) => {
  const { srv, reporter, failed, bodies } = await setup(t);
  let fail = 2;
  srv.handle((_req, res) => {
    if (fail-- > 0) jsonError(res, 503, "unavailable", "restarting");
    else ok(res);
  });
  reporter.set({ n: 1 });
  await until(() => failed.length === 1);
  reporter.set({ n: 2 });
  reporter.set({ n: 3 });
  await until(() => srv.seen.length === 3, 2000);
  await sleep(100);
  assert.deepEqual(bodies(), [{ n: 1 }, { n: 3 }, { n: 3 }]);
  assert.equal(failed[0]!.kind, "retry");
  assert.equal(failed[0]!.retryInMs, 50);
  const gap = srv.seen[1]!.at - srv.seen[0]!.at;
  assert.ok(gap >= 45, `set() during the retry wait did not cut it short (gap ${gap} ms)`);
});

test("linkUp() cuts a retry wait after a transient failure short, not one after a refusal", async (t) => {
  const { srv, reporter, failed, bodies } = await setup(t, { backoffMs: 60_000 });
  let answer = 503;
  srv.handle((_req, res) => (answer === 204 ? ok(res) : jsonError(res, answer, "unavailable", "down")));
  reporter.set({ n: 1 });
  await until(() => failed.length === 1);
  assert.equal(failed[0]!.retryInMs, 60_000);
  answer = 204;
  reporter.linkUp();
  await until(() => srv.seen.length === 2, 2000);
  assert.deepEqual(bodies(), [{ n: 1 }, { n: 1 }]);

  // A refusal (403) keeps its long wait: the stream getting through does not make the status acceptable.
  answer = 403;
  reporter.set({ n: 2 });
  await until(() => failed.length === 2);
  assert.equal(failed[1]!.kind, "fatal-backoff-long");
  answer = 204;
  reporter.linkUp();
  await sleep(300);
  assert.equal(srv.seen.length, 3, "no send before the long wait is over");
});

test("stop({flush}) sends the unsent latest once; stop() alone sends nothing", async (t) => {
  const { srv, reporter, bodies } = await setup(t, { debounceMs: 10_000 });
  srv.handle((_req, res) => ok(res));
  reporter.set({ n: 9 });
  await reporter.stop({ flush: true });
  assert.deepEqual(bodies(), [{ n: 9 }]);
  reporter.set({ n: 10 });
  await reporter.stop({ flush: true });
  assert.equal(srv.seen.length, 1, "set() after stop is ignored");

  const other = await setup(t, { debounceMs: 10_000 });
  other.srv.handle((_req, res) => ok(res));
  other.reporter.set({ n: 1 });
  await other.reporter.stop();
  assert.equal(other.srv.seen.length, 0);
});
