import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeApiServer } from "@meridian/shared/kube/fake-apiserver";
import { LABEL_MANAGED_BY, LABEL_WORKSPACE, MANAGED_BY_AGENT } from "@meridian/shared/kube/labels";
import { NAMESPACES, SECRETS } from "@meridian/shared/kube/resources";
import { OwnedCaches } from "./caches.ts";

let api: FakeApiServer;
before(async () => {
  api = await new FakeApiServer().start();
});
after(() => api.stop());

const ns = (name: string, labels?: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels, annotations: { note: "customer's" } },
});
const ours = (id: string) => ({ [LABEL_MANAGED_BY]: MANAGED_BY_AGENT, [LABEL_WORKSPACE]: id });

test("the caches see every object of our names but hand out only Meridian's, for its own workspace", async () => {
  api.put("/api/v1/namespaces", ns("mw-a", ours("a")));
  api.put("/api/v1/namespaces", ns("mw-b")); // the customer's, same prefix
  api.put("/api/v1/namespaces", ns("mw-c", ours("other"))); // labelled for another workspace
  api.put("/api/v1/namespaces", ns("kube-system"));
  // The fake keeps a cluster-wide collection as one list; the agent watches Secrets in all namespaces.
  api.put("/api/v1/secrets", {
    metadata: { name: "meridian-workspace-credential", namespace: "mw-b", labels: { team: "x" } },
    data: { token: "Y3VzdG9tZXI=" },
  });
  const caches = new OwnedCaches(await api.client(), "mw-");
  caches.start();
  try {
    assert.equal(await caches.waitForSync(), true);
    assert.ok(caches.get(NAMESPACES, undefined, "mw-a"));
    assert.equal(caches.foreign(NAMESPACES, undefined, "mw-a"), undefined);
    for (const name of ["mw-b", "mw-c", "kube-system"]) {
      assert.equal(caches.get(NAMESPACES, undefined, name), undefined, name);
      assert.ok(caches.foreign(NAMESPACES, undefined, name), name);
    }
    assert.equal(caches.foreign(NAMESPACES, undefined, "mw-absent"), undefined);
    assert.deepEqual(
      caches.list(NAMESPACES).map((o) => o.metadata?.name),
      ["mw-a"],
    );
    assert.deepEqual(caches.workspaceIdsInCluster(), ["a"], "never an orphan candidate unless ours");
    const secret = caches.foreign(SECRETS, "mw-b", "meridian-workspace-credential");
    assert.ok(secret);
    assert.equal(secret.data, undefined, "a customer's Secret's data is never held");
    assert.equal(caches.foreign(NAMESPACES, undefined, "mw-b")?.metadata?.annotations, undefined);
    // Relabelled by its owner: ours no more.
    api.put("/api/v1/namespaces", ns("mw-a", { team: "x" }));
    for (let i = 0; i < 200 && caches.get(NAMESPACES, undefined, "mw-a"); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(caches.get(NAMESPACES, undefined, "mw-a"), undefined);
    assert.ok(caches.foreign(NAMESPACES, undefined, "mw-a"));
  } finally {
    await caches.stop();
  }
});

test("after 410 Gone every cache re-lists, and onResynced is heard once all are current again", async () => {
  api.put("/api/v1/namespaces", ns("mw-a", ours("a")));
  const caches = new OwnedCaches(await api.client(), "mw-");
  let resynced = 0;
  caches.onResynced(() => {
    assert.equal(caches.current, true, "heard only when every cache is current");
    resynced++;
  });
  caches.start();
  try {
    assert.equal(await caches.waitForSync(AbortSignal.timeout(5000)), true);
    assert.equal(caches.current, true);
    assert.equal(resynced, 0, "the first lists are no re-list");
    const first = caches.lists;
    // Every cache (one per kind and name) has listed once and watches.
    for (let i = 0; i < 200 && api.watchers < first; i++) await new Promise((r) => setTimeout(r, 10));
    // Nothing changed: a re-list finds no difference and reports no object, only the resync.
    api.compact();
    api.endWatches();
    for (let i = 0; i < 300 && caches.lists < 2 * first; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(caches.lists, 2 * first, "every cache re-listed once");
    for (let i = 0; i < 300 && resynced === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(caches.current, true);
    // Once when the last cache had re-listed (twice at most if one saw its 410 only after the rest).
    assert.ok(resynced >= 1, "the resync was heard");
    assert.ok(caches.get(NAMESPACES, undefined, "mw-a"));
  } finally {
    await caches.stop();
    api.objects.clear();
  }
});
