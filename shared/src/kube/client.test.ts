import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { applyObject, deleteObject } from "./apply.ts";
import { isWriteVerb, type RequestInfo, verbOf } from "./client.ts";
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
