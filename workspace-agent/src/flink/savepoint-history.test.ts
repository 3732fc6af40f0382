// Periodic savepoints and the savepoint history's retention: the pure rules (savepoint-history.ts)
// and how the lifecycle acts on them (lifecycle.ts, lifecycle-outcome.ts), on the tests' tiny world.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type DeploymentSpec,
  type DeploymentSpecInput,
  deploymentSpec,
} from "@meridian/shared/protocol/index";
import { World } from "./lifecycle.testutil.ts";
import type { Action, Desired } from "./lifecycle.ts";
import { type LifecycleState, parseState, serializeState } from "./lifecycle-state.ts";
import { specHash } from "./objects.ts";
import { disposable, periodicDueAt, protectedLocations, retentionOf } from "./savepoint-history.ts";
import { SPEC_INPUT, specOf } from "./spec.testutil.ts";

const spec = (over: Partial<DeploymentSpecInput> = {}): DeploymentSpec => specOf(over);
const want = (s: DeploymentSpec): Desired => ({ deleted: false, spec: s, specHash: specHash(s) });
const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const sp = (n: number, s: number) => ({
  location: `file:///sp/sp-${n}`,
  time: at(s),
  trigger: "nonce" as const,
});

function stateWith(over: Partial<LifecycleState>, s = spec({ savepoints: {} })): LifecycleState {
  return {
    v: 1,
    spec: s,
    nextRunId: 2,
    target: "RUNNING",
    observedRestartNonce: 0,
    observedSavepointNonce: 0,
    savepoints: [],
    run: { id: 1, specHash: "h", startedAt: at(0), everRunning: true },
    ...over,
  };
}

test("the spec's savepoints block: absent means no retention at all, present defaults to 10 kept", () => {
  assert.equal(retentionOf(spec()), undefined);
  assert.deepEqual(retentionOf(spec({ savepoints: {} })), { maxCount: 10, maxAgeMs: undefined });
  assert.deepEqual(
    retentionOf(spec({ savepoints: { retention: { maxCount: 3, maxAgeSeconds: 3600 } } }), 10),
    {
      maxCount: 3,
      maxAgeMs: 36_000,
    },
  );
});

test("the spec refuses an interval under 60 s, a maxCount above 30 and an age under 60 s, naming the field", () => {
  for (const [savepoints, path] of [
    [{ intervalSeconds: 59 }, "savepoints.intervalSeconds"],
    [{ intervalSeconds: 1.5 }, "savepoints.intervalSeconds"],
    [{ retention: { maxCount: 31 } }, "savepoints.retention.maxCount"],
    [{ retention: { maxCount: 0 } }, "savepoints.retention.maxCount"],
    [{ retention: { maxAgeSeconds: 10 } }, "savepoints.retention.maxAgeSeconds"],
  ] as const) {
    const r = deploymentSpec.safeParse({ ...SPEC_INPUT, savepoints });
    assert.equal(r.success, false, JSON.stringify(savepoints));
    assert.equal(r.error?.issues[0]?.path.join("."), path);
  }
  assert.equal(
    deploymentSpec.safeParse({ ...SPEC_INPUT, savepoints: { intervalSeconds: 60 } }).success,
    true,
  );
});

test("a change of the savepoints block alone redeploys nothing (not in the spec hash)", () => {
  assert.equal(specHash(spec()), specHash(spec({ savepoints: { intervalSeconds: 600 } })));
});

test("retention: all but the newest maxCount go, and those older than maxAge, oldest first", () => {
  const history = [sp(1, 0), sp(2, 100), sp(3, 200), sp(4, 300), sp(5, 400)];
  const byCount = stateWith({ savepoints: history }, spec({ savepoints: { retention: { maxCount: 3 } } }));
  assert.deepEqual(
    disposable(byCount, retentionOf(byCount.spec), new Date(T0 + 500_000)).map((s) => s.location),
    ["file:///sp/sp-1", "file:///sp/sp-2"],
  );
  const byAge = stateWith(
    { savepoints: history },
    spec({ savepoints: { retention: { maxCount: 30, maxAgeSeconds: 250 } } }),
  );
  assert.deepEqual(
    disposable(byAge, retentionOf(byAge.spec), new Date(T0 + 500_000)).map((s) => s.location),
    ["file:///sp/sp-1", "file:///sp/sp-2", "file:///sp/sp-3"],
  );
  const none = stateWith({ savepoints: history }, spec());
  assert.deepEqual(disposable(none, retentionOf(none.spec), new Date(T0 + 500_000)), []);
});

test("retention never lets go of the newest, the run's restore points or an operation's savepoint", () => {
  const s = spec({ savepoints: { retention: { maxCount: 1, maxAgeSeconds: 60 } } });
  const state = stateWith(
    {
      savepoints: [sp(1, 0), sp(2, 100), sp(3, 200), sp(4, 300), sp(5, 400)],
      run: {
        id: 3,
        specHash: "h",
        startedAt: at(0),
        everRunning: true,
        startedFrom: "file:///sp/sp-1",
        restoreFrom: "file:///sp/sp-3",
      },
      op: {
        kind: "upgrade",
        step: "removePods",
        startedAt: at(0),
        stepAt: at(0),
        stop: true,
        probed: false,
        attempts: 0,
        savepoint: "file:///sp/sp-2",
      },
    },
    s,
  );
  assert.deepEqual([...protectedLocations(state)].sort(), [
    "file:///sp/sp-1",
    "file:///sp/sp-2",
    "file:///sp/sp-3",
    "file:///sp/sp-5",
  ]);
  assert.deepEqual(
    disposable(state, retentionOf(s), new Date(T0 + 10_000_000)).map((x) => x.location),
    ["file:///sp/sp-4"],
  );
});

test("the next periodic savepoint is due one interval after the newest savepoint or the run's start", () => {
  const s = spec({ savepoints: { intervalSeconds: 600 } });
  assert.equal(periodicDueAt(stateWith({}, s), 600_000), T0 + 600_000);
  assert.equal(periodicDueAt(stateWith({ savepoints: [sp(1, 900)] }, s), 600_000), T0 + 1_500_000);
  assert.equal(periodicDueAt(stateWith({ run: undefined }, s), 600_000), undefined);
  assert.equal(periodicDueAt(stateWith({}, s), undefined), undefined);
});

/** A world whose deployment runs `s`, seen RUNNING once. */
function runningWorld(s: DeploymentSpec): World {
  const w = new World();
  w.decide(want(s));
  w.running();
  w.decide(want(s));
  return w;
}

/** Takes a savepoint the decision asked for, completed at `location`. */
function complete(w: World, s: DeploymentSpec, trigger: Action, location: string): void {
  assert.equal(trigger.type, "triggerSavepoint");
  assert.equal(trigger.type === "triggerSavepoint" && trigger.stop, false, "the job keeps running");
  w.outcome(trigger, { type: "ok" });
  const poll = w.decide(want(s)).action;
  assert.equal(poll.type, "pollSavepoint");
  w.outcome(poll, { type: "completed", location });
}

test("a periodic savepoint is taken once the interval passed, recorded as periodic, then waits again", () => {
  const s = spec({ savepoints: { intervalSeconds: 600 } });
  const w = runningWorld(s);
  const early = w.decide(want(s)).action;
  assert.equal(early.type, "wait", "not due yet: a wait, not idle, so the reconcile comes back");
  assert.equal(early.type === "wait" && early.ms, 600_000);
  w.tick(600_000);
  const d = w.decide(want(s));
  assert.equal(d.state?.op?.periodic, true);
  assert.ok(d.events.some((e) => e.reason === "SavepointTriggering" && /periodic/.test(e.message)));
  complete(w, s, d.action, "file:///sp/p1");
  const st = w.current();
  assert.equal(st?.op, undefined, "a periodic savepoint keeps the job running and ends there");
  assert.deepEqual(
    st?.savepoints.map((x) => [x.location, x.trigger]),
    [["file:///sp/p1", "periodic"]],
  );
  assert.equal(st?.run?.restoreFrom, "file:///sp/p1", "the run's restore point moves on (SAVEPOINT mode)");
  const next = w.decide(want(s)).action;
  assert.equal(next.type === "wait" && next.ms, 600_000, "the next one an interval after this one");
});

test("no periodic savepoint while the job is not running, nor before it ever ran, nor without an interval", () => {
  const s = spec({ savepoints: { intervalSeconds: 60 } });
  const w = new World();
  w.decide(want(s));
  w.podsPresent = true;
  w.job = { state: "INITIALIZING", id: "job1" };
  w.tick(3_600_000);
  assert.equal(w.decide(want(s)).state?.op, undefined, "never ran");
  const r = runningWorld(s);
  r.job = { state: "RESTARTING", id: "job1" };
  r.tick(3_600_000);
  assert.equal(r.decide(want(s)).state?.op, undefined, "restarting");
  r.job = { state: "RUNNING", id: "job1" };
  assert.equal(r.decide(want(s)).state?.op?.periodic, true, "running again: taken");
  const off = runningWorld(spec());
  off.tick(365 * 86_400_000);
  assert.deepEqual(off.decide(want(spec())).action, { type: "idle" });
});

test("a nonce savepoint resets the periodic clock: the interval counts from the newest savepoint of any trigger", () => {
  const s = spec({ savepoints: { intervalSeconds: 600 } });
  const w = runningWorld(s);
  w.tick(500_000);
  const s1 = spec({ savepoints: { intervalSeconds: 600 }, savepointNonce: 1 });
  complete(w, s1, w.decide(want(s1)).action, "file:///sp/n1");
  assert.equal(w.current()?.savepoints.at(-1)?.trigger, "nonce");
  w.tick(200_000);
  const d = w.decide(want(s1));
  assert.equal(d.state?.op, undefined, "not due 200 s after the nonce savepoint");
  assert.equal(d.action.type === "wait" && d.action.ms, 400_000);
});

test("retention disposes the oldest recorded savepoint while the job runs; disposed or already gone leaves the history", () => {
  const s = spec({ savepoints: { intervalSeconds: 60, retention: { maxCount: 2 } } });
  const w = runningWorld(s);
  for (const n of [1, 2, 3]) {
    w.tick(60_000);
    complete(w, s, w.decide(want(s)).action, `file:///sp/p${n}`);
  }
  const d = w.decide(want(s));
  assert.deepEqual(d.action, { type: "disposeSavepoint", location: "file:///sp/p1" });
  w.outcome(d.action, { type: "disposed", alreadyGone: false });
  assert.deepEqual(
    w.current()?.savepoints.map((x) => x.location),
    ["file:///sp/p2", "file:///sp/p3"],
  );
  assert.equal(w.decide(want(s)).action.type, "wait", "nothing more to dispose");
  w.tick(60_000);
  complete(w, s, w.decide(want(s)).action, "file:///sp/p4");
  const again = w.decide(want(s)).action;
  assert.deepEqual(again, { type: "disposeSavepoint", location: "file:///sp/p2" });
  w.outcome(again, { type: "disposed", alreadyGone: true });
  assert.deepEqual(
    w.current()?.savepoints.map((x) => x.location),
    ["file:///sp/p3", "file:///sp/p4"],
  );
});

test("a failed disposal keeps the savepoint recorded and is retried only after a back-off, never blocking savepoints", () => {
  const s = spec({ savepoints: { intervalSeconds: 60, retention: { maxCount: 1 } } });
  const w = runningWorld(s);
  for (const n of [1, 2]) {
    w.tick(60_000);
    complete(w, s, w.decide(want(s)).action, `file:///sp/p${n}`);
  }
  const d = w.decide(want(s));
  assert.equal(d.action.type, "disposeSavepoint");
  w.outcome(d.action, { type: "failed", message: "AccessDenied" });
  const st = w.current();
  assert.deepEqual(
    st?.savepoints.map((x) => x.location),
    ["file:///sp/p1", "file:///sp/p2"],
  );
  assert.equal(st?.disposal?.attempts, 1);
  const retryAt = Date.parse(st?.disposal?.retryAt ?? "");
  assert.ok(retryAt - w.now.getTime() >= 30_000, "at least the floor of the back-off");
  assert.notEqual(w.decide(want(s)).action.type, "disposeSavepoint", "not before the retry time");
  w.tick(60_000);
  const periodic = w.decide(want(s));
  assert.equal(periodic.state?.op?.periodic, true, "the periodic savepoint is not held up by the failure");
  complete(w, s, periodic.action, "file:///sp/p3");
  w.now = new Date(retryAt + 1);
  const retry = w.decide(want(s)).action;
  assert.deepEqual(retry, { type: "disposeSavepoint", location: "file:///sp/p1" });
  w.outcome(retry, { type: "unreachable", message: "no answer" });
  assert.equal(w.current()?.disposal?.attempts, 2);
});

test("nothing is disposed while the job is not running, nor while suspended: the suspend's savepoint is kept", () => {
  const s = spec({ savepoints: { retention: { maxCount: 1 } } });
  const w = runningWorld(s);
  for (const n of [1, 2]) {
    const sn = spec({ savepoints: { retention: { maxCount: 1 } }, savepointNonce: n });
    complete(w, sn, w.decide(want(sn)).action, `file:///sp/n${n}`);
  }
  const s2 = spec({ savepoints: { retention: { maxCount: 1 } }, savepointNonce: 2 });
  w.job = { state: "RESTARTING", id: "job1" };
  assert.notEqual(w.decide(want(s2)).action.type, "disposeSavepoint");
  w.job = { state: "RUNNING", id: "job1" };
  assert.deepEqual(w.decide(want(s2)).action, { type: "disposeSavepoint", location: "file:///sp/n1" });
  w.outcome(
    { type: "disposeSavepoint", location: "file:///sp/n1" },
    { type: "disposed", alreadyGone: false },
  );
  // Suspended: no run, no JobManager; the one left is the newest, the resume's restore point.
  const suspended = spec({
    savepoints: { retention: { maxCount: 1 } },
    savepointNonce: 2,
    state: "SUSPENDED",
  });
  const stop = w.decide(want(suspended)).action;
  assert.equal(stop.type === "triggerSavepoint" && stop.stop, true);
  w.outcome(stop, { type: "ok" });
  w.outcome(w.decide(want(suspended)).action, { type: "completed", location: "file:///sp/s1" });
  w.podsPresent = false;
  w.job = { state: "NOT_DEPLOYED" };
  const d = w.decide(want(suspended));
  assert.equal(d.state?.target, "SUSPENDED");
  assert.deepEqual(d.action, { type: "idle" });
  assert.deepEqual(
    d.state?.savepoints.map((x) => x.location),
    ["file:///sp/n2", "file:///sp/s1"],
  );
});

test("a restarted workspace agent keeps the rhythm: the due time comes from the persisted state alone", () => {
  const s = spec({ savepoints: { intervalSeconds: 600 } });
  const w = runningWorld(s);
  w.tick(600_000);
  complete(w, s, w.decide(want(s)).action, "file:///sp/p1");
  w.tick(250_000);
  // What a new process reads back from the ConfigMap's annotation: nothing else survives.
  const parsed = parseState(serializeState(w.current() as LifecycleState));
  assert.ok(parsed.ok && parsed.state);
  const fresh = new World();
  fresh.state = parsed.state;
  fresh.now = w.now;
  fresh.running();
  const d = fresh.decide(want(s));
  assert.equal(d.state?.op, undefined, "not taken again on start");
  assert.equal(
    d.action.type === "wait" && d.action.ms,
    350_000,
    "due 600 s after the last one, not 600 s from now",
  );
  fresh.tick(350_000);
  assert.equal(fresh.decide(want(s)).state?.op?.periodic, true);
});
