import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { Counter, Registry } from "prom-client";
import { notReadyReasons, type ReadinessCheck, startHealthServer } from "./health.ts";

test("/readyz lists the reason of every failing named check; /healthz, /livez and /metrics answer", async (t) => {
  const registry = new Registry();
  new Counter({ name: "x_total", help: "x", registers: [registry] }).inc();
  let synced = false;
  let credential = false;
  const checks: ReadinessCheck[] = [
    { name: "caches", notReady: () => (synced ? undefined : "caches not synced") },
    { name: "credential", notReady: () => (credential ? undefined : "no credential yet") },
  ];
  const health = await startHealthServer({ addr: "127.0.0.1:0", registry, checks });
  t.after(() => health.close());
  const get = async (path: string, method = "GET") => {
    const res = await fetch(`${health.url}${path}`, { method });
    return { status: res.status, body: await res.text() };
  };
  assert.deepEqual(await get("/readyz"), {
    status: 503,
    body: "not ready: caches not synced; no credential yet\n",
  });
  assert.deepEqual(notReadyReasons(checks), ["caches not synced", "no credential yet"]);
  synced = true;
  assert.deepEqual(await get("/readyz"), { status: 503, body: "not ready: no credential yet\n" });
  credential = true;
  assert.deepEqual(await get("/readyz"), { status: 200, body: "ok\n" });
  assert.deepEqual(notReadyReasons(checks), []);
  assert.deepEqual(await get("/healthz"), { status: 200, body: "ok\n" });
  assert.deepEqual(await get("/livez"), { status: 200, body: "ok\n" });
  assert.match((await get("/metrics")).body, /^x_total 1$/m);
  assert.equal((await get("/nothing")).status, 404);
  assert.equal((await get("/healthz", "POST")).status, 405);
});

test("an address in use is a clear error naming MERIDIAN_HEALTH_ADDR", async (t) => {
  const taken = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => taken.once("listening", r));
  t.after(() => taken.close());
  const { port } = taken.address() as { port: number };
  await assert.rejects(
    startHealthServer({ addr: `127.0.0.1:${port}`, registry: new Registry(), checks: [] }),
    /cannot listen on 127\.0\.0\.1:\d+ for \/healthz, \/readyz and \/metrics; set MERIDIAN_HEALTH_ADDR/,
  );
});
