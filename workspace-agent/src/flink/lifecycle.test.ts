import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeploymentSpec, DeploymentSpecInput } from "@meridian/shared/protocol/index";
import { World } from "./lifecycle.testutil.ts";
import { type Desired, TRANSIENT_BLOCK_AFTER_MS } from "./lifecycle.ts";
import { heldGeneration } from "./lifecycle-state.ts";
import { specHash } from "./objects.ts";
import { specOf } from "./spec.testutil.ts";

const spec = (over: Partial<DeploymentSpecInput> = {}): DeploymentSpec =>
  specOf({ taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1 }, ...over });
const want = (s: DeploymentSpec): Desired => ({ deleted: false, spec: s, specHash: specHash(s) });

function deployRunning(w: World, s = spec()): void {
  const d = w.decide(want(s));
  assert.equal(d.action.type, "idle");
  w.running();
  w.decide(want(s));
}

test("a new RUNNING deployment starts run 1 without state and acknowledges its nonces", () => {
  const w = new World();
  const d = w.decide(want(spec({ savepointNonce: 3, restartNonce: 2 })));
  assert.deepEqual(d.action, { type: "idle" });
  assert.equal(d.state?.run?.id, 1);
  assert.equal(d.state?.run?.restoreFrom, undefined);
  assert.equal(d.state?.observedSavepointNonce, 3);
  assert.equal(d.state?.observedRestartNonce, 2);
  assert.ok(d.events.some((e) => e.reason === "Deploying"));
});

test("a deployment created SUSPENDED gets state but no run", () => {
  const w = new World();
  const d = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.equal(d.state?.run, undefined);
  assert.equal(d.state?.target, "SUSPENDED");
});

test("suspend stops with a savepoint recorded before the POST, removes pods, resume restores from it", () => {
  const w = new World();
  deployRunning(w);
  assert.equal(w.state?.run?.everRunning, true);
  const d1 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.equal(d1.action.type, "triggerSavepoint");
  // The step and its trigger id are in the state the reconciler persists before acting.
  assert.equal(d1.state?.op?.kind, "suspend");
  assert.equal(d1.state?.op?.step, "savepoint");
  assert.equal(d1.state?.op?.triggerId, "t1");
  assert.deepEqual(d1.action, {
    type: "triggerSavepoint",
    jobId: "job1",
    triggerId: "t1",
    stop: true,
    directory: "file:///sp/orders",
  });
  w.outcome(d1.action, { type: "ok" });
  assert.equal(w.state?.op?.step, "awaitSavepoint");
  const d2 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.deepEqual(d2.action, { type: "pollSavepoint", jobId: "job1", triggerId: "t1", probe: false });
  w.outcome(d2.action, { type: "inProgress" });
  assert.equal(w.state?.op?.step, "awaitSavepoint");
  w.outcome(d2.action, { type: "completed", location: "file:/sp/orders/savepoint-1" });
  assert.equal(w.state?.op?.step, "removePods");
  w.job = { state: "FINISHED", id: "job1" };
  const d3 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.deepEqual(d3.action, { type: "removePods" });
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  const d4 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.deepEqual(d4.action, { type: "idle" });
  assert.equal(w.state?.run, undefined);
  assert.equal(w.state?.target, "SUSPENDED");
  assert.equal(w.state?.savepoints[0]?.trigger, "suspend");

  const d5 = w.decide(want(spec()));
  assert.equal(d5.action.type, "idle");
  assert.equal(w.current()?.run?.id, 2);
  assert.equal(w.current()?.run?.restoreFrom, "file:/sp/orders/savepoint-1");
});

test("an agent restarted after the stop POST but before recording it finds the savepoint by its trigger id", () => {
  const w = new World();
  deployRunning(w);
  const d1 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.equal(d1.action.type, "triggerSavepoint");
  // Crash here: Flink stopped the job, but step "awaitSavepoint" was never persisted.
  w.job = { state: "FINISHED", id: "job1" };
  const d2 = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.deepEqual(d2.action, { type: "pollSavepoint", jobId: "job1", triggerId: "t1", probe: true });
  w.outcome(d2.action, { type: "completed", location: "file:/sp/x" });
  assert.equal(w.state?.op?.step, "removePods");
  assert.equal(w.state?.savepoints.at(-1)?.location, "file:/sp/x");
});

test("an agent restarted while still running re-sends the stop with the same trigger id (idempotent in Flink)", () => {
  const w = new World();
  deployRunning(w);
  const d1 = w.decide(want(spec({ state: "SUSPENDED" })));
  const again = w.decide(want(spec({ state: "SUSPENDED" })));
  assert.equal(d1.action.type, "triggerSavepoint");
  assert.deepEqual(again.action, d1.action);
});

test("savepoint nonce: a savepoint without stopping, the nonce observed, the location recorded with it", () => {
  const w = new World();
  deployRunning(w);
  const s = spec({ savepointNonce: 1 });
  const d1 = w.decide(want(s));
  assert.equal(d1.action.type, "triggerSavepoint");
  assert.equal(d1.action.type === "triggerSavepoint" && d1.action.stop, false);
  w.outcome(d1.action, { type: "ok" });
  const d2 = w.decide(want(s));
  w.outcome(d2.action, { type: "completed", location: "file:/sp/n1" });
  assert.equal(w.state?.op, undefined);
  assert.equal(w.state?.observedSavepointNonce, 1);
  assert.deepEqual(w.state?.savepoints.at(-1), {
    location: "file:/sp/n1",
    time: w.now.toISOString(),
    trigger: "nonce",
    nonce: 1,
  });
  assert.equal(
    w.state?.run?.restoreFrom,
    "file:/sp/n1",
    "a recreated JobManager restores from the newest savepoint",
  );
  assert.equal(w.decide(want(s)).action.type, "idle");
});

test("SAVEPOINT upgrade: a failed savepoint blocks with a condition and retries; never silently stateless", () => {
  const w = new World();
  deployRunning(w);
  const s2 = spec({ image: "flink:2.3.1", generation: 2 });
  const d1 = w.decide(want(s2));
  assert.equal(d1.state?.op?.kind, "upgrade");
  assert.equal(d1.action.type, "triggerSavepoint");
  w.outcome(d1.action, { type: "ok" });
  const d2 = w.decide(want(s2));
  w.outcome(d2.action, { type: "failed", message: "Checkpoint expired before completing" });
  assert.equal(w.state?.op?.blocked?.reason, "SavepointFailed");
  assert.match(w.state?.op?.blocked?.message ?? "", /expired/);
  assert.equal(w.state?.run?.id, 1, "the old run keeps running");
  const d3 = w.decide(want(s2));
  assert.equal(d3.action.type, "wait");
  w.tick(11_000);
  const d4 = w.decide(want(s2));
  assert.equal(d4.action.type, "triggerSavepoint");
  assert.notEqual(d4.action.type === "triggerSavepoint" && d4.action.triggerId, "t1", "a new trigger id");

  // The way out is explicit: switch to STATELESS.
  w.outcome(d4.action, { type: "failed", message: "again" });
  const s3 = spec({ image: "flink:2.3.1", generation: 3, upgradeMode: "STATELESS" });
  const d5 = w.decide(want(s3));
  assert.deepEqual(d5.action, { type: "removePods" });
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  const d6 = w.decide(want(s3));
  assert.equal(d6.action.type, "idle");
  assert.equal(w.state?.run?.id, 2);
  assert.equal(w.state?.run?.restoreFrom, undefined);
  assert.equal(w.state?.run?.specHash, specHash(s3));
});

test("SAVEPOINT upgrade redeploys from the stop savepoint with the new spec", () => {
  const w = new World();
  deployRunning(w);
  const s2 = spec({ parallelism: 2, generation: 2 });
  const d1 = w.decide(want(s2));
  w.outcome(d1.action, { type: "ok" });
  w.outcome(w.decide(want(s2)).action, { type: "completed", location: "file:/sp/up" });
  assert.deepEqual(w.decide(want(s2)).action, { type: "removePods" });
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  w.decide(want(s2));
  assert.equal(w.state?.run?.restoreFrom, "file:/sp/up");
  assert.equal(w.state?.spec.parallelism, 2);
  assert.equal(w.state?.savepoints.at(-1)?.trigger, "upgrade");
});

test("a TaskManager count change alone is not an upgrade", () => {
  const w = new World();
  deployRunning(w);
  const s2 = spec({ taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1, replicas: 2 } });
  const d = w.decide(want(s2));
  assert.equal(d.action.type, "idle");
  assert.equal(d.state?.run?.id, 1);
  assert.equal(d.state?.spec.taskManager.replicas, 2);
});

test("restart nonce in STATELESS mode: pods removed, a fresh run, nonce observed", () => {
  const w = new World();
  deployRunning(w, spec({ upgradeMode: "STATELESS" }));
  const s = spec({ upgradeMode: "STATELESS", restartNonce: 1 });
  const d1 = w.decide(want(s));
  assert.equal(d1.state?.op?.kind, "restart");
  assert.deepEqual(d1.action, { type: "removePods" });
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  w.decide(want(s));
  assert.equal(w.state?.run?.id, 2);
  assert.equal(w.state?.observedRestartNonce, 1);
});

test("cancel: cancel the job, wait for CANCELED, remove pods", () => {
  const w = new World();
  deployRunning(w);
  const s = spec({ state: "CANCELLED" });
  const d1 = w.decide(want(s));
  assert.deepEqual(d1.action, { type: "cancelJob", jobId: "job1" });
  w.outcome(d1.action, { type: "ok" });
  w.job = { state: "CANCELLING", id: "job1" };
  assert.equal(w.decide(want(s)).action.type, "wait");
  w.job = { state: "CANCELED", id: "job1" };
  assert.deepEqual(w.decide(want(s)).action, { type: "removePods" });
  w.podsPresent = false;
  w.decide(want(s));
  assert.equal(w.state?.target, "CANCELLED");
  assert.equal(w.state?.run, undefined);
});

test("delete that cannot savepoint is blocked until meridian.dev/force-delete", () => {
  const w = new World();
  deployRunning(w);
  w.job = { state: "FAILED", id: "job1" };
  const d1 = w.decide({ deleted: true });
  assert.equal(d1.state?.op?.kind, "delete");
  assert.equal(d1.action.type, "pollSavepoint", "probes the trigger first");
  w.outcome(d1.action, { type: "notFound" });
  const d2 = w.decide({ deleted: true });
  assert.equal(d2.action.type, "wait");
  assert.equal(w.state?.op?.blocked?.reason, "SavepointImpossible");
  assert.match(w.state?.op?.blocked?.message ?? "", /force-delete/);
  w.forceDelete = true;
  const d3 = w.decide({ deleted: true });
  assert.deepEqual(d3.action, { type: "removeAll" });
  w.outcome(d3.action, { type: "gone", gone: true });
  assert.equal(w.state, undefined);
});

/** A world whose run 1 runs job `lineage-1` (its fixed job id), with or without HA. */
function runningLineage(ha = false): World {
  const w = new World();
  w.ha = ha;
  w.newJobId = (run) => `lineage-${run}`;
  w.decide(want(spec()));
  w.podsPresent = true;
  w.job = { state: "RUNNING", id: "lineage-1" };
  w.decide(want(spec()));
  return w;
}

test("delete of a job that failed keeps its newest retained checkpoint as the final state, or a newer savepoint", () => {
  for (const savepointAfter of [false, true]) {
    const w = runningLineage();
    const cpTime = "2026-01-01T00:00:30.000Z";
    w.lastCheckpoint = {
      jobId: "lineage-1",
      id: 7,
      time: cpTime,
      location: "s3://b/orders/checkpoints/lineage-1/chk-7",
    };
    if (savepointAfter)
      w.state?.savepoints.push({
        location: "s3://b/orders/savepoints/sp-9",
        time: "2026-01-01T00:00:40.000Z",
        trigger: "nonce",
      });
    w.job = { state: "FAILED", id: "lineage-1" };
    const d1 = w.decide({ deleted: true });
    w.outcome(d1.action, { type: "notFound" });
    const d2 = w.decide({ deleted: true });
    assert.deepEqual(d2.action, { type: "removeAll" }, "not blocked");
    const kept = savepointAfter
      ? "s3://b/orders/savepoints/sp-9"
      : "s3://b/orders/checkpoints/lineage-1/chk-7";
    assert.equal(w.state?.op?.savepoint, kept, "the final state the drain reports upward");
    assert.equal(w.state?.op?.blocked, undefined);
    const ev = d2.events.find((e) => e.reason === "FinalStateKept");
    assert.match(ev?.message ?? "", /no savepoint can be taken \(the job is FAILED\)/);
    assert.ok(ev?.message.includes(kept));
  }
});

test("delete keeps blocking when the only checkpoint seen is not the run's: older than the run, or of another job id with HA", () => {
  for (const c of [
    { ha: false, jobId: "any", time: "2025-12-31T23:59:00.000Z" },
    { ha: true, jobId: "someone-else", time: "2026-01-01T00:00:30.000Z" },
  ]) {
    const w = runningLineage(c.ha);
    w.lastCheckpoint = { jobId: c.jobId, id: 3, time: c.time, location: "s3://b/x/chk-3" };
    w.job = { state: "FAILED", id: "lineage-1" };
    const d1 = w.decide({ deleted: true });
    w.outcome(d1.action, { type: "notFound" });
    w.decide({ deleted: true });
    assert.equal(w.state?.op?.blocked?.reason, "SavepointImpossible", JSON.stringify(c));
    assert.equal(w.state?.op?.savepoint, undefined);
  }
});

test("delete of a job restarting for longer than the transient wait keeps its retained checkpoint", () => {
  const w = runningLineage();
  w.lastCheckpoint = {
    jobId: "lineage-1",
    id: 4,
    time: "2026-01-01T00:00:30.000Z",
    location: "s3://b/c/chk-4",
  };
  w.job = { state: "RESTARTING", id: "lineage-1" };
  const d1 = w.decide({ deleted: true });
  w.outcome(d1.action, { type: "notFound" });
  assert.equal(w.decide({ deleted: true }).action.type, "wait", "a restart may end: it waits first");
  w.now = new Date(w.now.getTime() + TRANSIENT_BLOCK_AFTER_MS + 1000);
  assert.deepEqual(w.decide({ deleted: true }).action, { type: "removeAll" });
  assert.equal(w.state?.op?.savepoint, "s3://b/c/chk-4");
});

test("a job that never ran since its restore needs no new savepoint to upgrade", () => {
  const w = new World();
  w.decide(want(spec()));
  w.podsPresent = true;
  w.job = { state: "FAILED", id: "j" };
  const s2 = spec({ image: "flink:fixed", generation: 2 });
  const d1 = w.decide(want(s2));
  assert.deepEqual(d1.action, { type: "removePods" });
  assert.ok(d1.events.some((e) => e.reason === "SavepointSkipped"));
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  w.decide(want(s2));
  assert.equal(w.state?.run?.id, 2);
  assert.equal(w.state?.run?.restoreFrom, undefined, "its restore point (none) carries over");
});

test("delete during a suspend's stop-with-savepoint keeps the savepoint and then removes everything", () => {
  const w = new World();
  deployRunning(w);
  const d1 = w.decide(want(spec({ state: "SUSPENDED" })));
  w.outcome(d1.action, { type: "ok" });
  const d2 = w.decide({ deleted: true });
  assert.equal(d2.state?.op?.kind, "delete");
  assert.equal(d2.action.type, "pollSavepoint");
  w.outcome(d2.action, { type: "completed", location: "file:/sp/last" });
  assert.deepEqual(w.decide({ deleted: true }).action, { type: "removeAll" });
});

test("a lost trigger (JobManager restarted) triggers again with a new id", () => {
  const w = new World();
  deployRunning(w);
  const s = spec({ state: "SUSPENDED" });
  const d1 = w.decide(want(s));
  w.outcome(d1.action, { type: "ok" });
  w.outcome(w.decide(want(s)).action, { type: "notFound" });
  assert.equal(w.state?.op?.step, "savepoint");
  const d3 = w.decide(want(s));
  assert.equal(d3.action.type, "triggerSavepoint");
  assert.equal(d3.action.type === "triggerSavepoint" && d3.action.triggerId, "t2");
});

test("a job restarting for long is reported blocked but still awaited", () => {
  const w = new World();
  deployRunning(w);
  w.job = { state: "RESTARTING", id: "job1" };
  const s = spec({ state: "SUSPENDED" });
  const d1 = w.decide(want(s));
  assert.equal(d1.action.type, "pollSavepoint");
  w.outcome(d1.action, { type: "notFound" });
  assert.equal(w.decide(want(s)).action.type, "wait");
  assert.equal(w.state?.op?.blocked, undefined);
  w.tick(6 * 60_000);
  assert.equal(w.decide(want(s)).action.type, "wait");
  assert.equal(w.current()?.op?.blocked?.reason, "JobNotRunning");
  w.job = { state: "RUNNING", id: "job1" };
  const d = w.decide(want(s));
  assert.equal(d.action.type, "triggerSavepoint");
  w.outcome(d.action, { type: "ok" });
  assert.equal(w.state?.op?.blocked, undefined);
});

test("nonces that change while suspended are acknowledged, not acted on later", () => {
  const w = new World();
  w.decide(want(spec({ state: "SUSPENDED" })));
  const d = w.decide(want(spec({ state: "SUSPENDED", savepointNonce: 4, restartNonce: 2 })));
  assert.equal(d.action.type, "idle");
  assert.equal(d.state?.observedSavepointNonce, 4);
  assert.equal(d.state?.observedRestartNonce, 2);
  assert.ok(d.events.some((e) => e.reason === "NonceAcknowledged"));
});

test("deleting a job that never ran (JobManager unreachable, crash-looping) needs no savepoint", () => {
  const w = new World();
  w.decide(want(spec()));
  w.podsPresent = true;
  w.job = { state: "UNREACHABLE" };
  const d = w.decide({ deleted: true });
  assert.deepEqual(d.action, { type: "removeAll" });
  assert.ok(d.events.some((e) => e.reason === "SavepointSkipped"));
});

test("the persisted state survives a round trip through its annotation text unchanged", async () => {
  const { parseState, serializeState } = await import("./lifecycle-state.ts");
  const w = new World();
  deployRunning(w);
  w.decide(want(spec({ state: "SUSPENDED" })));
  const text = serializeState(w.state!);
  const back = parseState(text);
  assert.ok(back.ok && back.state);
  assert.equal(serializeState(back.state), text, "same text: no false drift after a re-read");
  assert.deepEqual(parseState("{not json").ok, false);
  assert.deepEqual(parseState(undefined), { ok: true, state: undefined });
});

test("a savepoint refused because the tasks are still starting is retried in 2 s, not counted as a failure", () => {
  const w = new World();
  deployRunning(w);
  const s = spec({ state: "SUSPENDED" });
  const d1 = w.decide(want(s));
  w.outcome(d1.action, { type: "ok" });
  w.outcome(w.decide(want(s)).action, {
    type: "failed",
    message:
      "CheckpointException: Checkpoint triggering task Source (1/1) is not being executed at the moment.",
  });
  assert.equal(w.state?.op?.attempts, 0);
  assert.equal(w.state?.op?.blocked?.reason, "TasksStarting");
  assert.equal(w.decide(want(s)).action.type, "wait");
  w.tick(2100);
  assert.equal(w.decide(want(s)).action.type, "triggerSavepoint");
});

test("the generation accepted is persisted while its spec waits (an upgrade), and only then", () => {
  const w = new World();
  deployRunning(w);
  assert.equal(w.current()?.acceptedGeneration, undefined, "a spec that keeps up carries no extra field");
  const same = w.decide(want(spec({ generation: 2 })));
  assert.equal(same.state?.spec.generation, 2, "an unchanged spec under a new generation is taken over");
  assert.equal(same.state?.acceptedGeneration, undefined);
  const upgrade = w.decide(want(spec({ generation: 3, parallelism: 2 })));
  assert.equal(upgrade.state?.op?.kind, "upgrade");
  assert.equal(upgrade.state?.spec.generation, 2, "the old spec still runs");
  assert.equal(upgrade.state?.acceptedGeneration, 3, "but generation 3 is held");
  const state = upgrade.state;
  assert.ok(state);
  assert.equal(heldGeneration(state), 3);
});
