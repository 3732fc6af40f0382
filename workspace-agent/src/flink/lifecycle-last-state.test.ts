// upgradeMode LAST_STATE in the pure lifecycle: an upgrade, restart, suspend and resume continue the
// job's HA metadata (same job id, its latest checkpoint, no savepoint), and block with
// LastStateUnavailable, the running job untouched, when there is no checkpoint to continue from.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeploymentSpec, DeploymentSpecInput } from "@meridian/shared/protocol/index";
import { World } from "./lifecycle.testutil.ts";
import type { Desired } from "./lifecycle.ts";
import { specHash } from "./objects.ts";
import { specOf } from "./spec.testutil.ts";

const spec = (over: Partial<DeploymentSpecInput> = {}): DeploymentSpec =>
  specOf({
    taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1 },
    upgradeMode: "LAST_STATE",
    ...over,
  });
const want = (s: DeploymentSpec): Desired => ({ deleted: false, spec: s, specHash: specHash(s) });

/** The lifecycle world of a deployment that runs Kubernetes HA, its runs given job ids. */
function haWorld(): World {
  const w = new World();
  w.ha = true;
  w.newJobId = (run) => `job-of-run-${run}`;
  return w;
}

function running(w: World, s: DeploymentSpec): void {
  w.decide(want(s));
  w.podsPresent = true;
  w.job = { state: "RUNNING", id: w.state?.run?.jobId };
  w.decide(want(s));
}

test("a new run starts a lineage with its own fixed job id", () => {
  const w = haWorld();
  running(w, spec());
  assert.equal(w.state?.run?.jobId, "job-of-run-1");
});

test("a LAST_STATE upgrade checks the HA metadata, removes the pods without a savepoint, resets HA but the job's checkpoints and continues the job", () => {
  const w = haWorld();
  running(w, spec());
  const next = spec({ parallelism: 2 });
  const d1 = w.decide(want(next));
  assert.deepEqual(d1.action, { type: "checkLastState", jobId: "job-of-run-1" });
  assert.equal(d1.state?.op?.kind, "upgrade");
  w.outcome(d1.action, { type: "lastState", available: true, message: "checkpoint 7" });
  const d2 = w.decide(want(next));
  assert.equal(d2.action.type, "removePods", "no savepoint, no cancel: the job is not ended");
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  const d3 = w.decide(want(next));
  assert.deepEqual(d3.action, { type: "resetHa", keepJobId: "job-of-run-1" });
  w.outcome(d3.action, { type: "ok" });
  const d4 = w.decide(want(next));
  assert.equal(d4.action.type, "idle");
  assert.equal(w.state?.run?.id, 2);
  assert.equal(w.state?.run?.jobId, "job-of-run-1", "the new run continues the job's HA metadata");
  assert.equal(w.state?.run?.restoreFrom, undefined);
  assert.equal(w.state?.spec.parallelism, 2);
  assert.ok(d4.events.some((e) => /latest checkpoint of job job-of-run-1/.test(e.message)));
  assert.equal(w.state?.savepoints.length, 0, "no savepoint was taken");
});

test("without a checkpoint in the HA metadata the upgrade blocks with LastStateUnavailable and the job keeps running", () => {
  const w = haWorld();
  running(w, spec());
  const next = spec({ parallelism: 2 });
  const d1 = w.decide(want(next));
  w.outcome(d1.action, {
    type: "lastState",
    available: false,
    message: "the HA metadata of job job-of-run-1 (ConfigMap x) does not exist",
  });
  assert.equal(w.state?.op?.step, "checkLastState");
  assert.equal(w.state?.op?.blocked?.reason, "LastStateUnavailable");
  assert.match(w.state?.op?.blocked?.message ?? "", /does not exist; set upgradeMode SAVEPOINT/);
  const d2 = w.decide(want(next));
  assert.equal(d2.action.type, "wait", "nothing is stopped while blocked");
  assert.equal(w.state?.run?.id, 1);
  // After the retry delay it looks again.
  w.now = new Date(w.now.getTime() + 31_000);
  assert.equal(w.decide(want(next)).action.type, "checkLastState");
  // Switching to SAVEPOINT takes the savepoint way instead.
  const d3 = w.decide(want(spec({ parallelism: 2, upgradeMode: "SAVEPOINT" })));
  assert.equal(d3.action.type, "triggerSavepoint");
});

test("LAST_STATE without HA blocks at once, saying HA is off", () => {
  const w = haWorld();
  w.ha = false;
  running(w, spec());
  const d = w.decide(want(spec({ restartNonce: 1 })));
  assert.equal(d.action.type, "wait");
  assert.equal(w.state?.op?.kind, "restart");
  assert.match(w.state?.op?.blocked?.message ?? "", /Kubernetes HA is off/);
  assert.ok(d.events.some((e) => e.reason === "LastStateUnavailable" && e.warning));
});

test("a LAST_STATE suspend keeps the HA metadata and the resume continues from it", () => {
  const w = haWorld();
  running(w, spec());
  const d1 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.equal(d1.action.type, "checkLastState");
  w.outcome(d1.action, { type: "lastState", available: true, message: "ok" });
  assert.equal(w.decide(want(spec({ state: "SUSPENDED" }))).action.type, "removePods");
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  const d2 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.equal(d2.action.type, "idle", "no resetHa: the resume needs the metadata");
  assert.equal(w.state?.target, "SUSPENDED");
  assert.equal(w.state?.haJobId, "job-of-run-1");
  const r1 = w.decide(want(spec()));
  assert.equal(w.state?.op?.kind, "resume");
  assert.deepEqual(r1.action, { type: "checkLastState", jobId: "job-of-run-1" });
  w.outcome(r1.action, { type: "lastState", available: true, message: "ok" });
  const r2 = w.decide(want(spec()));
  assert.deepEqual(r2.action, { type: "resetHa", keepJobId: "job-of-run-1" });
  w.outcome(r2.action, { type: "ok" });
  w.decide(want(spec()));
  assert.equal(w.state?.run?.id, 2);
  assert.equal(w.state?.run?.jobId, "job-of-run-1");
  assert.equal(w.state?.haJobId, undefined);
});

test("a LAST_STATE resume after a cancel has no HA metadata to continue: blocked, never stateless", () => {
  const w = haWorld();
  running(w, spec());
  const c = w.decide(want(spec({ state: "CANCELLED" })));
  assert.equal(c.action.type, "cancelJob");
  w.outcome(c.action, { type: "ok" });
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  const c2 = w.decide(want(spec({ state: "CANCELLED" })));
  assert.equal(c2.action.type, "resetHa", "a cancelled job's HA metadata is not needed");
  w.outcome(c2.action, { type: "ok" });
  w.decide(want(spec({ state: "CANCELLED" })));
  assert.equal(w.state?.target, "CANCELLED");
  const r = w.decide(want(spec()));
  assert.equal(r.action.type, "wait");
  assert.equal(w.state?.op?.kind, "resume");
  assert.match(w.state?.op?.blocked?.message ?? "", /no HA metadata was kept/);
  assert.equal(w.state?.run, undefined, "nothing started");
  // STATELESS is the explicit way out.
  w.decide(want(spec({ upgradeMode: "STATELESS" })));
  assert.equal(w.current()?.run?.id, 2);
  assert.equal(w.current()?.run?.jobId, "job-of-run-2", "a new lineage");
});

test("a SAVEPOINT upgrade with HA resets the HA metadata after the pods go and starts a new lineage", () => {
  const w = haWorld();
  running(w, spec({ upgradeMode: "SAVEPOINT" }));
  const next = spec({ upgradeMode: "SAVEPOINT", parallelism: 2 });
  const d1 = w.decide(want(next));
  assert.equal(d1.action.type, "triggerSavepoint");
  w.outcome(d1.action, { type: "ok" });
  const d2 = w.decide(want(next));
  w.outcome(d2.action, { type: "completed", location: "s3://b/sp-1" });
  w.decide(want(next));
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  const d3 = w.decide(want(next));
  assert.deepEqual(d3.action, { type: "resetHa", keepJobId: undefined });
  w.outcome(d3.action, { type: "ok" });
  w.decide(want(next));
  assert.equal(w.state?.run?.restoreFrom, "s3://b/sp-1");
  assert.equal(w.state?.run?.jobId, "job-of-run-2");
});

test("a LAST_STATE deployment deleted leaves a savepoint like SAVEPOINT", () => {
  const w = haWorld();
  running(w, spec());
  const d = w.decide({ deleted: true });
  assert.equal(d.action.type, "triggerSavepoint");
});

test("HA metadata a LAST_STATE suspend kept goes before a start that does not continue it", () => {
  const w = haWorld();
  running(w, spec());
  const d1 = w.decide(want(spec({ state: "SUSPENDED" })));
  w.outcome(d1.action, { type: "lastState", available: true, message: "ok" });
  w.decide(want(spec({ state: "SUSPENDED" })));
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  w.decide(want(spec({ state: "SUSPENDED" })));
  assert.equal(w.state?.haJobId, "job-of-run-1");
  // Resumed as STATELESS: the old job's HA ConfigMaps are deleted first, then a new lineage starts.
  const r1 = w.decide(want(spec({ upgradeMode: "STATELESS" })));
  assert.deepEqual(r1.action, { type: "resetHa", keepJobId: undefined });
  assert.equal(w.state?.run, undefined, "nothing started before the old metadata is gone");
  w.outcome(r1.action, { type: "ok" });
  w.decide(want(spec({ upgradeMode: "STATELESS" })));
  assert.equal(w.current()?.run?.id, 2);
  assert.equal(w.current()?.run?.jobId, "job-of-run-2");
  assert.equal(w.current()?.haJobId, undefined);
});
