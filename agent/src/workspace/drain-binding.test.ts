// The drain's own RoleBinding (decision 53): a drain that finds meridian-agent-drain missing (a
// workspace deleted before an upgraded agent applied it) creates it first; otherwise it writes nothing.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeClient, KubeRequest } from "@meridian/shared/kube/client";
import type { KubeObject } from "@meridian/shared/kube/resources";
import type { OwnedCaches } from "../caches.ts";
import { type ApplyDeps, ensureDrainBinding } from "./apply.ts";
import { BUILD_CONTEXT } from "./build-context.testutil.ts";

function setup(objects: { namespace?: KubeObject; binding?: KubeObject }) {
  const requests: KubeRequest[] = [];
  const kube = {
    requestWithStatus: async (req: KubeRequest) => {
      requests.push(req);
      return { status: 201, body: req.body };
    },
  } as unknown as KubeClient;
  const caches = {
    get: (type: { plural: string }, _ns: unknown, name: string) =>
      type.plural === "namespaces" && name === "mw-a"
        ? objects.namespace
        : type.plural === "rolebindings" && name === "meridian-agent-drain"
          ? objects.binding
          : undefined,
    noteWritten: () => {},
  } as unknown as OwnedCaches;
  const deps = { kube, caches, build: BUILD_CONTEXT } as unknown as ApplyDeps;
  return { run: () => ensureDrainBinding(deps, "a", new AbortController().signal), requests };
}

const namespace: KubeObject = { metadata: { name: "mw-a" } };

test("a missing drain binding is created, binding the drain ClusterRole to the agent itself", async () => {
  const { run, requests } = setup({ namespace });
  assert.equal(await run(), 1);
  assert.equal(requests.length, 1);
  assert.equal(requests[0]?.method, "PATCH");
  assert.equal(
    requests[0]?.path,
    "/apis/rbac.authorization.k8s.io/v1/namespaces/mw-a/rolebindings/meridian-agent-drain",
  );
  const sent = requests[0]?.body;
  const body = (typeof sent === "string" ? JSON.parse(sent) : sent) as Record<string, unknown>;
  assert.deepEqual(body.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: BUILD_CONTEXT.clusterRoles.drain,
  });
  assert.deepEqual(body.subjects, [
    { kind: "ServiceAccount", name: "meridian-agent", namespace: "meridian-system" },
  ]);
});

test("a drain binding already there, or a namespace gone or going, costs no request", async () => {
  const binding: KubeObject = { metadata: { name: "meridian-agent-drain", namespace: "mw-a" } };
  const terminating: KubeObject = { metadata: { name: "mw-a", deletionTimestamp: "2026-12-07T00:00:00Z" } };
  for (const objects of [{ namespace, binding }, {}, { namespace: terminating }]) {
    const { run, requests } = setup(objects);
    assert.equal(await run(), 0);
    assert.deepEqual(requests, []);
  }
});
