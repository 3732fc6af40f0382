import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { applyObject, deleteObject } from "./apply.ts";
import { isWriteVerb, PRIORITY_LEASE, type RequestInfo, verbOf } from "./client.ts";
import { isNotFound, KubeApiError } from "./errors.ts";
import { FakeApiServer } from "./fake-apiserver.ts";
import { CONFIG_MAPS, type KubeObject } from "./resources.ts";

let api: FakeApiServer;
before(async () => {
  api = await new FakeApiServer().start();
});
after(() => api.stop());

test("verbs are named as RBAC names them", () => {
  assert.equal(verbOf({ method: "GET", path: "/api/v1/namespaces" }), "list");
  assert.equal(verbOf({ method: "GET", path: "/api/v1/namespaces/x" }), "get");
  assert.equal(verbOf({ method: "GET", path: "/api/v1/namespaces/x/pods" }), "list");
  assert.equal(verbOf({ method: "GET", path: "/apis/apps/v1/namespaces/x/deployments/d" }), "get");
  assert.equal(verbOf({ method: "GET", path: "/apis/apps/v1/deployments", query: { watch: true } }), "watch");
  assert.equal(verbOf({ method: "GET", path: "/version" }), "get");
  assert.equal(
    verbOf({ method: "PATCH", path: "/api/v1/namespaces/x", contentType: "application/apply-patch+yaml" }),
    "apply",
  );
  assert.equal(verbOf({ method: "DELETE", path: "/api/v1/namespaces/x" }), "delete");
  assert.ok(isWriteVerb("apply") && isWriteVerb("create") && !isWriteVerb("watch") && !isWriteVerb("list"));
});

test("apply, get and delete go through the hook; errors carry status and reason", async () => {
  const client = await api.client();
  const seen: RequestInfo[] = [];
  client.onRequest((i) => seen.push(i));
  const cm: KubeObject = { metadata: { name: "c", namespace: "n" }, data: { a: "1" } };
  const stored = await applyObject(client, CONFIG_MAPS, cm, { fieldManager: "meridian-agent" });
  assert.equal(stored.kind, "ConfigMap");
  assert.ok(await client.getOrUndefined("/api/v1/namespaces/n/configmaps/c"));
  assert.equal(await client.getOrUndefined("/api/v1/namespaces/n/configmaps/none"), undefined);
  assert.equal(await deleteObject(client, CONFIG_MAPS, "n", "c"), true);
  assert.equal(await deleteObject(client, CONFIG_MAPS, "n", "c"), false);
  const err = await client
    .request({ method: "GET", path: "/api/v1/namespaces/n/configmaps/c" })
    .catch((e) => e);
  assert.ok(err instanceof KubeApiError && isNotFound(err));
  assert.match(err.message, /answered 404 NotFound/);
  assert.deepEqual(
    seen.map((s) => `${s.verb} ${s.status}`),
    ["apply 201", "get 200", "get 404", "delete 200", "delete 404", "get 404"],
  );
  await assert.rejects(
    applyObject(client, CONFIG_MAPS, { metadata: { name: "x" } }, { fieldManager: "m" }),
    /without a namespace/,
  );
  await client.close();
});

test("a request without an answer is wrapped with what failed", async () => {
  const client = await api.client({ timeoutMs: 1 });
  const err = (await client.request({ method: "GET", path: "/api/v1/namespaces" }).catch((e) => e)) as Error;
  assert.match(String(err.message), /GET \/api\/v1\/namespaces failed without an answer/);
  await client.close();
});

test("aborting a request in flight rejects it without leaving an unhandled rejection behind", async () => {
  const client = await api.client();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  try {
    const ctl = new AbortController();
    // A watch the fake never answers with headers: the request hangs until aborted.
    const hanging = client.request({
      method: "GET",
      path: "/api/v1/namespaces/x/configmaps",
      query: { watch: true },
      signal: ctl.signal,
    });
    setTimeout(() => ctl.abort(new Error("lost leadership")), 50);
    await assert.rejects(hanging);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
    await client.close();
  }
});

test("higher-priority requests jump the queue (Lease renewals before a backlog of writes)", async () => {
  const client = await api.client({ concurrency: 1 });
  const order: string[] = [];
  const req = (name: string, priority?: number) =>
    client
      .request({ method: "GET", path: `/api/v1/namespaces/p/configmaps/${name}`, priority })
      .catch(() => order.push(name));
  const all = [req("first"), req("low-1"), req("low-2"), req("lease", PRIORITY_LEASE)];
  await Promise.all(all);
  assert.deepEqual(order, ["first", "lease", "low-1", "low-2"]);
  await client.close();
});
