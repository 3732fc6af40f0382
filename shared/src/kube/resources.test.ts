import assert from "node:assert/strict";
import { test } from "node:test";
import { DEPLOYMENTS, keyOf, NAMESPACES, PODS, resourcePath } from "./resources.ts";

test("paths for core and grouped, namespaced and cluster-scoped kinds", () => {
  assert.equal(resourcePath(PODS, "a", "p", "log"), "/api/v1/namespaces/a/pods/p/log");
  assert.equal(resourcePath(DEPLOYMENTS), "/apis/apps/v1/deployments");
  assert.equal(resourcePath(DEPLOYMENTS, "a"), "/apis/apps/v1/namespaces/a/deployments");
  assert.equal(resourcePath(NAMESPACES, "ignored", "mw-x"), "/api/v1/namespaces/mw-x");
  assert.equal(keyOf({ metadata: { namespace: "a", name: "b" } }), "a/b");
  assert.equal(keyOf({ metadata: { name: "b" } }), "b");
});
