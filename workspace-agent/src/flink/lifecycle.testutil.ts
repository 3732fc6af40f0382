// The lifecycle tests' tiny world (test helper): the persisted state, the clock and what Flink and
// Kubernetes show, with decide and applyOutcome wired as the reconciler wires them.
import assert from "node:assert/strict";
import {
  type Action,
  type Decision,
  type Desired,
  decide,
  type Observed,
  type Outcome,
} from "./lifecycle.ts";
import { applyOutcome } from "./lifecycle-outcome.ts";
import type { LifecycleState } from "./lifecycle-state.ts";
import { specHash } from "./objects.ts";

/** A tiny harness: keeps the persisted state, the clock and the world Flink/Kubernetes show. */
export class World {
  state: LifecycleState | undefined;
  now = new Date("2026-01-01T00:00:00Z");
  podsPresent = false;
  job: Observed["job"] = { state: "NOT_DEPLOYED" };
  forceDelete = false;
  /** The newest completed checkpoint the monitor saw (monitor.ts: lastCheckpoint). */
  lastCheckpoint: Observed["lastCheckpoint"];
  /** The stored spec runs Kubernetes HA (lifecycle-loop.ts: runsHa). */
  ha = false;
  /** The job id a run gets (lifecycle-loop.ts: lineageJobId); undefined: none, as before HA. */
  newJobId: ((run: number) => string) | undefined;
  #ids = 0;
  newTriggerId = () => `t${++this.#ids}`;

  decide(desired: Desired): Decision {
    const d = decide({
      desired,
      state: this.state,
      observed: {
        now: this.now,
        podsPresent: this.podsPresent,
        job: this.job,
        forceDelete: this.forceDelete,
        lastCheckpoint: this.lastCheckpoint,
      },
      stateSpecHash: this.state ? specHash(this.state.spec) : undefined,
      savepointDir: "file:///sp/orders",
      newTriggerId: this.newTriggerId,
      ha: this.ha,
      ...(this.newJobId ? { newJobId: this.newJobId } : {}),
    });
    this.state = d.state;
    return d;
  }

  outcome(action: Action, outcome: Outcome): void {
    assert.ok(this.state, "outcome needs a state");
    const r = applyOutcome({
      state: this.state,
      action,
      outcome,
      now: this.now,
      newTriggerId: this.newTriggerId,
    });
    this.state = r.state;
  }

  /** The state without the narrowing an earlier assertion on `state` would cause. */
  current(): LifecycleState | undefined {
    return this.state;
  }

  tick(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }

  running(id = "job1"): void {
    this.podsPresent = true;
    this.job = { state: "RUNNING", id };
  }
}
