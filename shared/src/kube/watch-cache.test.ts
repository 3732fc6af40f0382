import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeApiServer } from "./fake-apiserver.ts";
import { CONFIG_MAPS } from "./resources.ts";
import { type CacheEvent, dropManagedFields, WatchCache } from "./watch-cache.ts";

const COLL = "/api/v1/namespaces/a/configmaps";
let api: FakeApiServer;
before(async () => {
  api = await new FakeApiServer().start();
});
after(() => api.stop());

const cm = (name: string, labels: Record<string, string> = { app: "m" }, data = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "a", labels },
  data,
});

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test("lists, then follows adds, changes and deletes; label selector filters", async () => {
  api.put(COLL, cm("one"));
  api.put(COLL, cm("other", { app: "x" }));
  const client = await api.client();
  const cache = new WatchCache({ client, type: CONFIG_MAPS, namespace: "a", labelSelector: "app=m" });
  const events: CacheEvent<unknown>[] = [];
  cache.on((e) => events.push(e));
  cache.start();
  assert.equal(await cache.waitForSync(), true);
  assert.equal(cache.size, 1);
  assert.ok(cache.get("a", "one"));
  api.put(COLL, cm("two"));
  api.put(COLL, cm("one", { app: "m" }, { k: "v" }));
  api.remove(COLL, "two");
  await until(() => events.length >= 4, "4 events");
  assert.deepEqual(
    events.map((e) => e.type),
    ["added", "added", "modified", "deleted"],
  );
  assert.deepEqual((cache.get("a", "one") as { data: unknown }).data, { k: "v" });
  assert.equal(cache.get("a", "two"), undefined);
  await cache.stop();
  await client.close();
  api.objects.clear();
});

test("after 410 Gone it re-lists and reports objects deleted meanwhile", async () => {
  api.put(COLL, cm("keep"));
  api.put(COLL, cm("lose"));
  const client = await api.client();
  const cache = new WatchCache({
    client,
    type: CONFIG_MAPS,
    namespace: "a",
    labelSelector: "app=m",
  });
  const seen: string[] = [];
  cache.on((e) => {
    // Heard while the re-list is stored: still synced (complete, only old), no longer current.
    if (e.type === "deleted")
      seen.push(`deleted ${e.object.metadata?.name} synced=${cache.synced} current=${cache.current}`);
  });
  // Every complete list is heard, after the changes it found, with the cache current by then.
  cache.onListed(({ relist }) => seen.push(`listed relist=${relist} current=${cache.current}`));
  assert.equal(cache.current, false, "not current before the first list");
  cache.start();
  await cache.waitForSync();
  assert.equal(cache.lists, 1);
  assert.equal(cache.current, true);
  await until(() => api.watchers === 1, "the watch to open");
  // The object disappears while history is compacted: only a re-list can notice.
  api.objects.delete(`${COLL}/lose`);
  api.compact();
  api.endWatches();
  await until(() => cache.lists >= 2, "a re-list");
  await cache.stop();
  await client.close();
  api.objects.clear();
  assert.ok(cache.lists >= 2);
  assert.equal(cache.current, true);
  assert.deepEqual(seen, [
    "listed relist=false current=true",
    "deleted lose synced=true current=false",
    "listed relist=true current=true",
  ]);
  assert.ok(cache.get("a", "keep"));
});

test("a failing list is retried with backoff until it succeeds", async () => {
  api.put(COLL, cm("x"));
  api.failNext = { count: 2, status: 500 };
  const client = await api.client();
  const cache = new WatchCache({
    client,
    type: CONFIG_MAPS,
    namespace: "a",
    backoff: { baseMs: 5, capMs: 20 },
  });
  cache.start();
  assert.equal(await cache.waitForSync(AbortSignal.timeout(3000)), true);
  assert.equal(cache.size, 1);
  await cache.stop();
  await client.close();
  api.objects.clear();
});

test("dropManagedFields removes metadata.managedFields and keeps everything else", () => {
  const obj = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "a", labels: { x: "y" }, managedFields: [{ manager: "m", operation: "Apply" }] },
    data: { k: "v" },
  };
  const out = dropManagedFields(obj);
  assert.deepEqual(out, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "a", labels: { x: "y" } },
    data: { k: "v" },
  });
  assert.ok(obj.metadata.managedFields, "the input object is not modified");
  const plain = { metadata: { name: "b" } };
  assert.equal(dropManagedFields(plain), plain, "an object without managedFields is returned as is");
});
