// job.initialSavepointPath: the first run of a deployment restores from it (a new workspace with the
// id of a deleted one, restoring the final savepoint it left), later runs ignore it, and with
// workspace storage it must lie under the workspace's storage.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeploymentSpec, DeploymentSpecInput } from "@meridian/shared/protocol/index";
import { type DecideInput, type Desired, decide } from "./lifecycle.ts";
import type { LifecycleState } from "./lifecycle-state.ts";
import { specHash } from "./objects.ts";
import { specOf } from "./spec.testutil.ts";
import { refuseStorage } from "./storage.ts";

const FINAL = "s3://state/workspaces/ws/orders/savepoints/savepoint-1a2b3c";
const spec = (over: Partial<DeploymentSpecInput> = {}, job: Record<string, unknown> = {}): DeploymentSpec =>
  specOf({ ...over, job: { ...specOf().job, initialSavepointPath: FINAL, ...job } });
const want = (s: DeploymentSpec): Desired => ({ deleted: false, spec: s, specHash: specHash(s) });

function step(desired: Desired, state: LifecycleState | undefined): LifecycleState | undefined {
  const input: DecideInput = {
    desired,
    state,
    observed: {
      now: new Date(),
      podsPresent: false,
      job: { state: "NOT_DEPLOYED" },
      forceDelete: false,
    },
    stateSpecHash: state ? specHash(state.spec) : undefined,
    savepointDir: "s3://state/workspaces/ws/orders/savepoints",
    newTriggerId: () => "t",
  };
  return decide(input).state;
}

test("the first run of a new deployment restores from job.initialSavepointPath", () => {
  const s = step(want(spec()), undefined);
  assert.equal(s?.run?.id, 1);
  assert.equal(s?.run?.restoreFrom, FINAL);
});

test("a deployment created SUSPENDED starts from job.initialSavepointPath when it first runs", () => {
  const suspended = step(want(spec({ state: "SUSPENDED" })), undefined);
  assert.equal(suspended?.run, undefined);
  const running = step(want(spec()), suspended);
  assert.equal(running?.run?.restoreFrom, FINAL);
});

test("without job.initialSavepointPath the first run starts without state", () => {
  assert.equal(step(want(specOf()), undefined)?.run?.restoreFrom, undefined);
});

test("a change of job.initialSavepointPath alone redeploys nothing", () => {
  assert.equal(specHash(spec()), specHash(spec({}, { initialSavepointPath: `${FINAL}-other` })));
  assert.equal(specHash(spec()), specHash(specOf()));
});

test("with workspace storage, job.initialSavepointPath must lie under the workspace's storage", () => {
  const storage = { baseURI: "s3://state/workspaces/ws" };
  assert.equal(refuseStorage(spec(), storage), undefined);
  assert.equal(
    refuseStorage(
      spec({}, { initialSavepointPath: "s3://state/workspaces/ws/other/savepoints/sp-1" }),
      storage,
    ),
    undefined,
    "another deployment's savepoint of the same workspace may be restored",
  );
  const elsewhere = refuseStorage(
    spec({}, { initialSavepointPath: "s3://state/workspaces/other/x" }),
    storage,
  );
  assert.equal(elsewhere?.field, "job.initialSavepointPath");
  assert.match(elsewhere?.message ?? "", /must lie under s3:\/\/state\/workspaces\/ws/);
  const bad = refuseStorage(spec({}, { initialSavepointPath: "ftp://x/y" }), storage);
  assert.equal(bad?.field, "job.initialSavepointPath");
});
