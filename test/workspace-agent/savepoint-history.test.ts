// Periodic savepoints and the savepoint history's retention on real Flink with the workspace's state
// on S3 (S3Proxy on loopback): periodic savepoints appear in the status with trigger `periodic`, the
// ones the retention rule (maxCount 2) lets go are disposed through Flink's savepoint disposal API
// (their `_metadata` object gone from the bucket), and the savepoint the current run was restored from
// stays although it is past the count. The spec's interval is 60 s, the minimum a spec may ask for;
// the workspace agent runs with a test-only savepointSecondMs of 100 ms, so 60 s last 6 s here.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { SavepointInfo } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { reported, startAgent, waitFor } from "./harness.ts";
import { exampleJob, type S3Env, startS3Env } from "./s3-env.ts";

const BUCKET = "flink-state";
const NAME = "orders";
const SECOND_MS = 100;

let world: S3Env;
let agent: WorkspaceAgent | undefined;

const spec = exampleJob({
  // HA off: this file is about savepoints; recovery.test.ts runs HA.
  flinkConfiguration: { "execution.checkpointing.interval": "3 s", "high-availability.type": "NONE" },
  savepoints: { intervalSeconds: 60, retention: { maxCount: 2 } },
});

const status = () => reported(world.env, world.ws, NAME);
const area = () => `workspaces/${world.ws.id}/${NAME}/savepoints/`;
const metadataKey = (location: string) => `${location.slice(`s3://${BUCKET}/`.length)}/_metadata`;

before(async () => {
  world = await startS3Env("sphist", BUCKET);
  agent = await startAgent(world.env, world.ws, world.settings, { savepointSecondMs: SECOND_MS });
  await world.env.cp.admin.putDeployment(world.ws.id, NAME, spec);
});

after(async () => {
  await agent?.stop();
  await world?.stop();
});

test("periodic savepoints appear, the retention rule disposes the old ones, the run's restore point is kept", async () => {
  // Every savepoint the status ever showed, to check afterwards which ones were disposed.
  const seen = new Map<string, SavepointInfo>();
  const look = async () => {
    const s = await status();
    for (const sp of s?.savepoints ?? []) seen.set(sp.location, sp);
    return s;
  };
  // 1. The job runs and takes periodic savepoints; with maxCount 2 the history stays at 2.
  await waitFor(
    "three periodic savepoints seen",
    async () => {
      const s = await look();
      return (
        s?.job.state === "RUNNING" && [...seen.values()].filter((x) => x.trigger === "periodic").length >= 3
      );
    },
    240_000,
    300,
  );
  // 2. A restart stops the job with a savepoint; the new run restores from it.
  const before = await look();
  await world.env.cp.admin.putDeployment(world.ws.id, NAME, { ...spec, restartNonce: 1 });
  const restarted = await waitFor(
    "the restarted job RUNNING",
    async () => {
      const s = await look();
      return s?.observedRestartNonce === 1 && s.job.state === "RUNNING" && s.job.id !== before?.job.id
        ? s
        : undefined;
    },
    180_000,
    300,
  );
  const restore = [...seen.values()].find((x) => x.trigger === "restart");
  assert.ok(restore, `the restart's savepoint is recorded: ${JSON.stringify(restarted.savepoints)}`);
  // 3. Two periodic savepoints after the restart: the restore point is third from the top, past the
  // count, and is kept; everything older is disposed.
  const final = await waitFor(
    "two periodic savepoints newer than the restore point, the older ones disposed",
    async () => {
      const s = await look();
      const newer = (s?.savepoints ?? []).filter((x) => x.trigger === "periodic" && x.time > restore.time);
      const olderLeft = (s?.savepoints ?? []).filter((x) => x.time < restore.time);
      return newer.length >= 2 && olderLeft.length === 0 && s?.savepoints.length === 3 ? s : undefined;
    },
    120_000,
    300,
  );
  const kept = final.savepoints.map((x) => x.location);
  assert.ok(kept.includes(restore.location), `the run's restore point is kept: ${kept.join(", ")}`);
  assert.equal(kept.length, 3, "the two newest and the protected restore point");
  assert.ok(final.savepoints.every((x) => x.location.startsWith(`s3://${BUCKET}/${area()}`)));
  // What Flink disposed is gone from the bucket; what is kept is still there.
  const keys = await world.s3.listObjects(BUCKET, area());
  const disposed = [...seen.keys()].filter((l) => !kept.includes(l));
  assert.ok(disposed.length >= 2, `old savepoints were disposed: ${disposed.join(", ")}`);
  for (const l of disposed) assert.ok(!keys.includes(metadataKey(l)), `${l} disposed: ${keys.join(", ")}`);
  for (const l of kept) assert.ok(keys.includes(metadataKey(l)), `${l} kept in the bucket`);
  assert.equal(final.lastSavepoint?.location, kept.at(-1));
});
