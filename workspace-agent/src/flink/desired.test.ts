import assert from "node:assert/strict";
import { test } from "node:test";
import { deploymentSpec } from "@meridian/shared/protocol/index";
import { DesiredStore } from "./desired.ts";

const spec = (name: string) =>
  deploymentSpec.parse({
    name,
    generation: 1,
    image: "flink:2.3.0",
    job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
    parallelism: 1,
    jobManager: { resources: { cpu: "1", memory: "1Gi" } },
    taskManager: { resources: { cpu: "1", memory: "1Gi" }, taskSlots: 1 },
    state: "RUNNING",
  });

test("before a snapshot nothing is known; a snapshot's omissions are orphans, never deletions", () => {
  const d = new DesiredStore();
  const changed: string[] = [];
  d.onChange((n) => changed.push(n));
  assert.deepEqual(d.get("a"), { kind: "unknown" });
  d.snapshot([spec("a"), spec("b")]);
  assert.equal(d.get("a").kind, "spec");
  d.snapshot([spec("a")]);
  assert.deepEqual(d.get("b"), { kind: "orphaned" });
  assert.deepEqual(changed.sort(), ["a", "a", "b", "b"]);
});

test("an explicit delete is remembered until the deletion finished; an upsert revives the name", () => {
  const d = new DesiredStore();
  d.snapshot([spec("a")]);
  d.delete("a");
  assert.deepEqual(d.get("a"), { kind: "deleted" });
  assert.deepEqual(d.names(), ["a"]);
  d.snapshot([]); // a later snapshot does not forget a pending deletion
  assert.deepEqual(d.get("a"), { kind: "deleted" });
  d.forget("a");
  assert.deepEqual(d.get("a"), { kind: "orphaned" });
  d.upsert(spec("a"));
  assert.equal(d.get("a").kind, "spec");
});
