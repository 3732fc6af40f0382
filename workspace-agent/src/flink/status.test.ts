import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { LifecycleState } from "./lifecycle-state.ts";
import { specHash } from "./objects.ts";
import { specOf } from "./spec.testutil.ts";
import { buildStatus, type StatusInput } from "./status.ts";

const spec = specOf({ generation: 3, parallelism: 2 });
const hash = specHash(spec);
const now = new Date("2026-01-01T00:00:00Z");

function pod(name: string, phase = "Running", ready = true): V1Pod {
  return {
    metadata: { name },
    status: { phase, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  };
}

function state(over: Partial<LifecycleState> = {}): LifecycleState {
  return {
    v: 1,
    spec,
    run: { id: 1, specHash: hash, startedAt: now.toISOString(), everRunning: true },
    nextRunId: 2,
    target: "RUNNING",
    observedRestartNonce: 0,
    observedSavepointNonce: 0,
    savepoints: [],
    ...over,
  };
}

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    name: "orders",
    spec,
    specHash: hash,
    deleted: false,
    orphaned: false,
    refused: undefined,
    state: state(),
    jobManager: pod("orders-jobmanager"),
    taskManagers: [pod("orders-taskmanager-1"), pod("orders-taskmanager-0")],
    flink: {
      job: { state: "RUNNING", id: "j1", parallelism: 2, startTime: now.toISOString() },
      taskManagers: 2,
      slots: { total: 2, available: 0 },
    },
    previous: undefined,
    now,
    ...over,
  };
}

const cond = (s: ReturnType<typeof buildStatus>, type: string) => s.conditions.find((c) => c.type === type);

test("a healthy running deployment: every condition good, pods sorted, slots from /overview", () => {
  const s = buildStatus(input());
  assert.equal(s.phase, "Running");
  assert.equal(s.observedGeneration, 3);
  assert.deepEqual(s.job, { state: "RUNNING", id: "j1", startTime: now.toISOString() });
  assert.deepEqual(
    s.taskManagers.pods.map((p) => p.name),
    ["orders-taskmanager-0", "orders-taskmanager-1"],
  );
  assert.equal(s.taskManagers.desired, 2);
  assert.equal(s.taskManagers.ready, 2);
  assert.deepEqual(s.slots, { total: 2, available: 0 });
  for (const t of ["Ready", "SpecAligned", "Healthy", "ParallelismAligned", "NonceAligned"])
    assert.equal(cond(s, t)?.status, "True", t);
  assert.equal(cond(s, "DeletionBlocked")?.status, "False");
});

test("every condition that is not in its good state has a reason and a message", () => {
  const blocked = {
    kind: "delete" as const,
    step: "savepoint" as const,
    startedAt: now.toISOString(),
    stepAt: now.toISOString(),
    stop: true,
    probed: true,
    attempts: 1,
    blocked: {
      reason: "SavepointImpossible",
      message: "delete needs a savepoint but the job is FAILED",
      since: "",
      retryAt: "",
    },
  };
  const s = buildStatus(
    input({
      state: state({ op: blocked }),
      flink: { job: { state: "FAILED", id: "j1", parallelism: 1 }, slots: { total: 1, available: 1 } },
      taskManagers: [pod("orders-taskmanager-0", "Failed", false)],
    }),
  );
  for (const c of s.conditions) {
    const good = c.type === "DeletionBlocked" ? c.status === "False" : c.status === "True";
    if (!good) {
      assert.ok(c.reason, `${c.type} has a reason`);
      assert.ok(c.message, `${c.type} has a message`);
    }
  }
  assert.equal(s.phase, "Deleting");
  assert.equal(cond(s, "DeletionBlocked")?.status, "True");
  assert.match(cond(s, "DeletionBlocked")?.message ?? "", /force-delete/);
  assert.equal(cond(s, "Healthy")?.reason, "PodFailed");
});

test("a refused image names the field", () => {
  const s = buildStatus(
    input({
      state: undefined,
      jobManager: undefined,
      taskManagers: [],
      flink: undefined,
      refused: { field: "image", message: "evil.io/x is not from an allowed registry" },
    }),
  );
  assert.equal(s.phase, "Refused");
  assert.equal(cond(s, "SpecAligned")?.status, "False");
  assert.match(cond(s, "SpecAligned")?.message ?? "", /^image: /);
  assert.equal(s.job.state, "NOT_DEPLOYED");
});

test("never RUNNING when the JobManager cannot be read", () => {
  const s = buildStatus(input({ flink: { job: { state: "UNREACHABLE" }, detail: "ECONNREFUSED" } }));
  assert.equal(s.job.state, "UNREACHABLE");
  assert.equal(s.phase, "Deploying");
  assert.equal(cond(s, "Ready")?.status, "False");
  assert.equal(cond(s, "Healthy")?.reason, "JobManagerUnreachable");
  assert.equal(cond(s, "ParallelismAligned")?.status, "Unknown");
  const none = buildStatus(input({ flink: undefined }));
  assert.equal(none.job.state, "UNREACHABLE");
});

test("parallelism and slot mismatches, pending nonces and upgrades are reported", () => {
  const p = buildStatus(
    input({
      flink: { job: { state: "RUNNING", id: "j", parallelism: 1 }, slots: { total: 2, available: 1 } },
    }),
  );
  assert.equal(cond(p, "ParallelismAligned")?.reason, "ParallelismMismatch");
  const slots = buildStatus(
    input({
      flink: { job: { state: "RUNNING", id: "j", parallelism: 2 }, slots: { total: 1, available: 0 } },
    }),
  );
  assert.equal(cond(slots, "ParallelismAligned")?.reason, "InsufficientSlots");
  const nonce = buildStatus(input({ spec: { ...spec, savepointNonce: 2 } }));
  assert.equal(cond(nonce, "NonceAligned")?.reason, "SavepointPending");
  const changed = { ...spec, image: "flink:2.3.1" };
  const up = buildStatus(input({ spec: changed, specHash: specHash(changed) }));
  assert.equal(cond(up, "SpecAligned")?.reason, "UpgradePending");
});

test("lastTransitionTime is kept while a condition does not change", () => {
  const first = buildStatus(input());
  const later = buildStatus(input({ previous: first.conditions, now: new Date("2026-01-01T01:00:00Z") }));
  assert.equal(cond(later, "Ready")?.lastTransitionTime, now.toISOString());
  const broken = buildStatus(
    input({
      previous: first.conditions,
      now: new Date("2026-01-01T02:00:00Z"),
      flink: { job: { state: "RESTARTING", id: "j" } },
    }),
  );
  assert.equal(cond(broken, "Healthy")?.lastTransitionTime, "2026-01-01T02:00:00.000Z");
});

test("suspended and cancelled deployments are Ready in their own way; savepoints are reported", () => {
  const sp = { location: "file:/sp/1", time: now.toISOString(), trigger: "suspend" as const };
  const s = buildStatus(
    input({
      spec: { ...spec, state: "SUSPENDED" },
      state: state({ run: undefined, target: "SUSPENDED", savepoints: [sp] }),
      jobManager: undefined,
      taskManagers: [],
      flink: undefined,
    }),
  );
  assert.equal(s.phase, "Suspended");
  assert.equal(s.job.state, "NOT_DEPLOYED");
  assert.equal(s.taskManagers.desired, 0);
  assert.equal(cond(s, "Ready")?.status, "True");
  assert.deepEqual(s.lastSavepoint, sp);
  assert.deepEqual(s.savepoints, [sp]);
});

test("a refused spec is reported as SpecRejected only while it stands; Refused when nothing runs", () => {
  const stale = {
    reason: "StaleGeneration",
    message: "deployment orders: spec generation 2 is older than generation 3",
  };
  const s = buildStatus(input({ rejection: stale }));
  const rejected = s.conditions.find((c) => c.type === "SpecRejected");
  assert.equal(rejected?.status, "True");
  assert.equal(rejected?.reason, "StaleGeneration");
  assert.match(rejected?.message ?? "", /older than generation 3; generation 3 stays applied$/);
  assert.equal(s.phase, "Running", "what is held keeps running");
  const fresh = buildStatus(
    input({ spec: undefined, state: undefined, rejection: { ...stale, reason: "InvalidSpec" } }),
  );
  assert.equal(fresh.phase, "Refused");
  assert.match(
    fresh.conditions.find((c) => c.type === "SpecRejected")?.message ?? "",
    /nothing was applied$/,
  );
  assert.equal(
    buildStatus(input()).conditions.some((c) => c.type === "SpecRejected"),
    false,
  );
});

test("a pod OOMKilled at its memory limit makes Healthy False with reason OOMKilled until it runs healthy again", () => {
  const oom = { reason: "OOMKilled", exitCode: 137, memoryLimit: "300Mi" };
  const s = buildStatus(input({ podFailures: [{ pod: "orders-jobmanager", failure: oom }] }));
  const healthy = cond(s, "Healthy");
  assert.equal(healthy?.status, "False");
  assert.equal(healthy?.reason, "OOMKilled");
  assert.match(healthy?.message ?? "", /orders-jobmanager was OOMKilled at its container memory limit 300Mi/);
  const other = buildStatus(
    input({ podFailures: [{ pod: "orders-jobmanager", failure: { ...oom, reason: "Error" } }] }),
  );
  assert.notEqual(cond(other, "Healthy")?.reason, "OOMKilled");
});

test("a pod refused by the workspace's ResourceQuota makes Ready False with reason QuotaExceeded and the numbers", () => {
  const quotaRefusal = {
    pod: "orders-taskmanager-1",
    quota: "meridian-workspace-quota",
    requested: "limits.memory=1Gi",
    used: "limits.memory=7Gi",
    limited: "limits.memory=8Gi",
  };
  // Running, one TaskManager missing: without the refusal that is only TaskManagersMissing.
  const missing = input({ taskManagers: [pod("orders-taskmanager-0")] });
  assert.equal(cond(buildStatus(missing), "Ready")?.reason, "TaskManagersMissing");
  const s = buildStatus({ ...missing, quotaRefusal });
  const ready = cond(s, "Ready");
  assert.equal(s.phase, "Running");
  assert.equal(ready?.status, "False");
  assert.equal(ready?.reason, "QuotaExceeded");
  assert.match(
    ready?.message ?? "",
    /^pod orders-taskmanager-1 cannot be created: it would exceed ResourceQuota meridian-workspace-quota \(requested limits\.memory=1Gi; used limits\.memory=7Gi; limited limits\.memory=8Gi\)/,
  );
  // The JobManager refused: the deployment cannot leave Deploying, and Ready says why.
  const deploying = buildStatus(
    input({
      jobManager: undefined,
      flink: undefined,
      quotaRefusal: { ...quotaRefusal, pod: "orders-jobmanager" },
    }),
  );
  assert.equal(deploying.phase, "Deploying");
  assert.equal(cond(deploying, "Ready")?.reason, "QuotaExceeded");
  // Suspended: no pod is wanted, so no refusal matters.
  const suspended = buildStatus(
    input({ state: state({ run: undefined, target: "SUSPENDED" }), quotaRefusal }),
  );
  assert.equal(cond(suspended, "Ready")?.reason, "Suspended");
});
