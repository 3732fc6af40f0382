// Reactive mode (`scaling.mode: reactive`, docs/flink-deployments.md#rescaling): which changes keep the
// run (TaskManager pods added or removed, Flink rescales the job itself) and which still upgrade, the
// config it renders, and ParallelismAligned while the job rescales.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { DeploymentSpec, DeploymentSpecInput } from "@meridian/shared/protocol/index";
import { World } from "./lifecycle.testutil.ts";
import type { Desired } from "./lifecycle.ts";
import { flinkConfig, specHash } from "./objects.ts";
import { PodBackoff, planPods } from "./pods.ts";
import { specOf } from "./spec.testutil.ts";
import { buildStatus, type StatusInput } from "./status.ts";

const TM = { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 2 };
const reactive = (over: Partial<DeploymentSpecInput> = {}): DeploymentSpec =>
  specOf({ parallelism: 2, taskManager: TM, scaling: { mode: "reactive" }, ...over });
const classic = (over: Partial<DeploymentSpecInput> = {}): DeploymentSpec =>
  specOf({ parallelism: 2, taskManager: TM, ...over });
const want = (s: DeploymentSpec): Desired => ({ deleted: false, spec: s, specHash: specHash(s) });
const ctx = (spec: DeploymentSpec) => ({
  workspaceId: "w",
  namespace: "mw-w",
  savepointBaseDir: undefined,
  spec,
});

test("the hash: reactive mode leaves out parallelism and TaskManager count; switching the mode redeploys", () => {
  // A spec without `scaling` hashes as before the field existed: running deployments are not redeployed.
  assert.equal(specHash(classic()), "2a3a2d40be21416e");
  assert.notEqual(specHash(classic({ parallelism: 4 })), specHash(classic()));
  assert.equal(specHash(reactive({ parallelism: 4 })), specHash(reactive()));
  assert.equal(
    specHash(reactive({ taskManager: { ...TM, replicas: 3 } })),
    specHash(reactive({ taskManager: { ...TM, replicas: 1 } })),
  );
  assert.notEqual(specHash(reactive()), specHash(classic()));
  // What the JobManager runs with still redeploys: slots per TaskManager, image, configuration.
  assert.notEqual(specHash(reactive({ taskManager: { ...TM, taskSlots: 1 } })), specHash(reactive()));
  assert.notEqual(specHash(reactive({ image: "flink:2.3.1" })), specHash(reactive()));
});

test("config.yaml: reactive mode sets scheduler-mode, over the spec's own key; without it nothing changes", () => {
  assert.equal(flinkConfig(ctx(reactive()))["scheduler-mode"], "reactive");
  const own = reactive({ flinkConfiguration: { "scheduler-mode": "default" } });
  assert.equal(flinkConfig(ctx(own))["scheduler-mode"], "reactive");
  assert.equal(flinkConfig(ctx(classic()))["scheduler-mode"], undefined);
  const theirs = classic({ flinkConfiguration: { "scheduler-mode": "reactive" } });
  assert.equal(flinkConfig(ctx(theirs))["scheduler-mode"], "reactive");
});

function runningWorld(s: DeploymentSpec): World {
  const w = new World();
  assert.equal(w.decide(want(s)).action.type, "idle");
  w.running();
  w.decide(want(s));
  return w;
}

test("reactive: a change of parallelism or TaskManager count keeps the run, no savepoint; the pods follow", () => {
  const w = runningWorld(reactive({ parallelism: 2 }));
  const run = w.state?.run;
  for (const next of [reactive({ parallelism: 4 }), reactive({ taskManager: { ...TM, replicas: 3 } })]) {
    const d = w.decide(want(next));
    assert.deepEqual(d.action, { type: "idle" });
    assert.equal(d.state?.op, undefined);
    assert.deepEqual(d.state?.run, run);
    assert.deepEqual(d.state?.spec, next, "the spec the pods are planned from is the new one");
    assert.equal(d.state?.savepoints.length, 0);
    assert.deepEqual(
      d.events.map((e) => e.reason),
      ["Rescaling"],
    );
  }
  // Said once: the stored spec has the new count now.
  assert.deepEqual(w.decide(want(reactive({ taskManager: { ...TM, replicas: 3 } }))).events, []);
  // The pods of the same run: one more TaskManager for the third, nothing else touched.
  const have = (name: string): V1Pod => ({
    metadata: { name, uid: name, annotations: { "meridian.dev/run": String(run?.id) } },
    status: { phase: "Running" },
  });
  const plan = planPods({
    ctx: ctx(w.state!.spec),
    owner: { name: "orders-flink-config", uid: "u" },
    run: { id: run!.id, specHash: run!.specHash },
    replicas: 3,
    observed: [have("orders-jobmanager"), have("orders-taskmanager-0"), have("orders-taskmanager-1")],
    backoff: new PodBackoff(),
    now: Date.now(),
  });
  assert.deepEqual(
    plan.actions.map((a) => `${a.type} ${a.type === "create" ? a.pod.metadata?.name : a.name}`),
    ["create orders-taskmanager-2"],
  );
});

test("reactive: anything the JobManager runs with, and leaving reactive mode, still upgrade", () => {
  for (const next of [
    reactive({ image: "flink:2.3.1" }),
    reactive({ taskManager: { ...TM, taskSlots: 1 } }),
    classic(),
  ]) {
    const w = runningWorld(reactive());
    const d = w.decide(want(next));
    assert.equal(d.state?.op?.kind, "upgrade", JSON.stringify(next));
  }
  // And without reactive mode a parallelism change is an upgrade, as before.
  const w = runningWorld(classic());
  assert.equal(w.decide(want(classic({ parallelism: 4 }))).state?.op?.kind, "upgrade");
});

const now = new Date("2026-01-01T00:00:00Z");
function status(spec: DeploymentSpec, flink: StatusInput["flink"]) {
  const s = buildStatus({
    name: "orders",
    spec,
    specHash: specHash(spec),
    deleted: false,
    orphaned: false,
    refused: undefined,
    state: {
      v: 1,
      spec,
      run: { id: 1, specHash: specHash(spec), startedAt: now.toISOString(), everRunning: true },
      nextRunId: 2,
      target: "RUNNING",
      observedRestartNonce: 0,
      observedSavepointNonce: 0,
      savepoints: [],
    },
    jobManager: { metadata: { name: "orders-jobmanager" }, status: { phase: "Running" } },
    taskManagers: [],
    flink,
    previous: undefined,
    now,
  });
  return s.conditions.find((c) => c.type === "ParallelismAligned");
}

test("ParallelismAligned in reactive mode: TaskManagers × slots, capped by max parallelism, says what it waits for", () => {
  const two = reactive({ taskManager: { ...TM, replicas: 2 } }); // 4 slots wanted
  const job = (parallelism: number, maxParallelism?: number) => ({
    state: "RUNNING" as const,
    id: "j",
    parallelism,
    ...(maxParallelism ? { maxParallelism } : {}),
  });
  const aligned = status(two, { job: job(4, 128), slots: { total: 4, available: 0 } });
  assert.equal(aligned?.status, "True");
  assert.match(aligned?.message ?? "", /2 TaskManagers × 2 slots/);
  const waiting = status(two, { job: job(2, 128), slots: { total: 2, available: 0 } });
  assert.deepEqual([waiting?.status, waiting?.reason], ["False", "WaitingForTaskManagers"]);
  const rescaling = status(two, { job: job(2, 128), slots: { total: 4, available: 2 } });
  assert.deepEqual([rescaling?.status, rescaling?.reason], ["False", "Rescaling"]);
  // Fewer TaskManagers than slots still registered (scaled down): rescaling, not waiting.
  const down = status(two, { job: job(6, 128), slots: { total: 6, available: 0 } });
  assert.equal(down?.reason, "Rescaling");
  const capped = status(two, { job: job(3, 3), slots: { total: 4, available: 1 } });
  assert.equal(capped?.status, "True");
  assert.match(capped?.message ?? "", /max parallelism 3/);
  // The spec's parallelism is not what reactive mode runs with: 4 here, not 2, is aligned.
  assert.equal(status(two, { job: job(2), slots: { total: 4, available: 2 } })?.reason, "Rescaling");
  const unknown = status(two, { job: { state: "RUNNING", id: "j" } });
  assert.deepEqual([unknown?.status, unknown?.reason], ["Unknown", "ParallelismUnknown"]);
});
