import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { FakeApiServer } from "@meridian/shared/kube/fake-apiserver";
import { type KubeObject, SERVICES } from "@meridian/shared/kube/resources";
import { createLogger } from "@meridian/shared/log";
import { NameGuard, NameTakenError } from "./name-guard.ts";
import { specOf } from "./spec.testutil.ts";

let api: FakeApiServer;
before(async () => {
  api = await new FakeApiServer().start();
});
after(() => api.stop());

const NS = "/api/v1/namespaces/mw-a";
const ours = { "app.kubernetes.io/managed-by": "meridian-workspace-agent", "meridian.dev/workspace": "a" };
const spec = specOf({ parallelism: 2 });

function logged() {
  const lines: string[] = [];
  const sink = new PassThrough();
  sink.on("data", (c: Buffer) => lines.push(...c.toString().split("\n").filter(Boolean)));
  return { lines, log: createLogger({ component: "test", destination: sink }) };
}
const flush = () => new Promise((r) => setImmediate(r));

test("a new deployment is refused for each of its names taken by an object that is not ours, once logged", async () => {
  const guard = new NameGuard({ client: await api.client(), namespace: "mw-a", workspaceId: "a" });
  const { lines, log } = logged();
  assert.equal(await guard.checkNew(spec, log), undefined, "nothing there");

  api.put(`${NS}/configmaps`, { metadata: { name: "orders-flink-config", labels: { team: "x" } } });
  api.put(`${NS}/services`, { metadata: { name: "orders-jobmanager", labels: ours } }); // ours: fine
  api.put(`${NS}/pods`, {
    metadata: { name: "orders-taskmanager-1", labels: { ...ours, "meridian.dev/workspace": "b" } },
  });
  api.put(`${NS}/pods`, { metadata: { name: "orders-taskmanager-2" } }); // beyond parallelism 2
  const refusal = await guard.checkNew(spec, log);
  assert.equal(refusal?.field, "name");
  assert.match(
    refusal?.message ?? "",
    /^ConfigMap mw-a\/orders-flink-config already exists and is not Meridian's \(it has no label app\.kubernetes\.io\/managed-by/,
  );
  assert.match(
    refusal?.message ?? "",
    /Pod mw-a\/orders-taskmanager-1 already exists .*"b" \(another workspace\)/,
  );
  assert.doesNotMatch(refusal?.message ?? "", /orders-jobmanager|orders-taskmanager-2/);
  await guard.checkNew(spec, log);
  await flush();
  assert.equal(lines.filter((l) => l.includes("not adopting it")).length, 1, "one Warning, not one per try");
});

test("create makes what is free, keeps what is ours and refuses what is someone else's, untouched", async () => {
  const guard = new NameGuard({ client: await api.client(), namespace: "mw-a", workspaceId: "a" });
  const { lines, log } = logged();
  const opts = { signal: new AbortController().signal, priority: 1 };
  const svc = (name: string): KubeObject => ({
    metadata: { name, namespace: "mw-a", labels: ours },
    spec: { ports: [] },
  });

  const made = await guard.create(SERVICES, svc("web-jobmanager"), "web", log, opts);
  assert.equal(made.created, true);
  assert.ok(made.object.metadata?.resourceVersion, "the stored object, as the API server returned it");

  // Ours already (the watch cache lags behind our own create): nothing written, what is there returned.
  const again = await guard.create(SERVICES, svc("web-jobmanager"), "web", log, opts);
  assert.deepEqual(
    [again.created, again.object.metadata?.resourceVersion],
    [false, made.object.metadata?.resourceVersion],
  );

  api.put(`${NS}/services`, { metadata: { name: "db-jobmanager", labels: { team: "x" } }, spec: { x: 1 } });
  for (let i = 0; i < 2; i++)
    await assert.rejects(guard.create(SERVICES, svc("db-jobmanager"), "db", log, opts), (err: unknown) => {
      assert.ok(err instanceof NameTakenError);
      assert.equal(err.refusal.field, "name");
      assert.match(
        err.message,
        /^Service mw-a\/db-jobmanager already exists and is not Meridian's \(it has no label/,
      );
      return true;
    });
  const theirs = api.objects.get(`${NS}/services/db-jobmanager`)?.obj;
  assert.deepEqual([theirs?.metadata?.labels, theirs?.spec], [{ team: "x" }, { x: 1 }], "theirs untouched");
  await flush();
  assert.equal(lines.filter((l) => l.includes("not adopting it")).length, 1, "one Warning, not one per try");
});
