// Periodic savepoints and the savepoint history's retention on real Flink with the workspace's state
// on S3 (S3Proxy on loopback): periodic savepoints appear in the status with trigger `periodic`, the
// ones the retention rule (maxCount 2) lets go are disposed through Flink's savepoint disposal API
// (their `_metadata` object gone from the bucket), and the savepoint the current run was restored from
// stays although it is past the count. The spec's interval is 60 s, the minimum a spec may ask for;
// the workspace agent runs with a test-only savepointSecondMs of 100 ms, so 60 s last 6 s here.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { SavepointInfo } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { type S3Server, startS3Server } from "../cluster/s3/s3-server.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  reported,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";
import { provisionStorage } from "./storage-workspace.ts";

const BUCKET = "flink-state";
const WS = "sphist";
const NAME = "orders";
const SECOND_MS = 100;

let env: Env;
let ws: Workspace;
let s3: S3Server;
let s3Dir: string;
let agent: WorkspaceAgent | undefined;

const spec: DeploymentBody = {
  image: FLINK_IMAGE,
  job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
  parallelism: 1,
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
  // HA off: this file is about savepoints; recovery.test.ts runs HA.
  flinkConfiguration: { "execution.checkpointing.interval": "3 s", "high-availability.type": "NONE" },
  state: "RUNNING",
  upgradeMode: "SAVEPOINT",
  savepoints: { intervalSeconds: 60, retention: { maxCount: 2 } },
};

const status = () => reported(env, ws, NAME);
const metadataKey = (location: string) => `${location.slice(`s3://${BUCKET}/`.length)}/_metadata`;
const savepointKeys = () => s3.listObjects(BUCKET, `workspaces/${WS}/${NAME}/savepoints/`);

before(async () => {
  s3Dir = await mkdtemp(join(tmpdir(), "meridian-s3-"));
  [env, s3] = await Promise.all([startEnv(), startS3Server({ dir: s3Dir })]);
  await s3.createBucket(BUCKET);
  ws = await createWorkspace(env, WS);
  const settings = await provisionStorage(env, ws, s3, { bucket: BUCKET });
  agent = await startAgent(env, ws, settings, { savepointSecondMs: SECOND_MS });
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
  await s3?.stop();
  if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
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
  await env.cp.admin.putDeployment(ws.id, NAME, { ...spec, restartNonce: 1 });
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
  assert.ok(
    final.savepoints.every((x) =>
      x.location.startsWith(`s3://${BUCKET}/workspaces/${WS}/${NAME}/savepoints/`),
    ),
  );
  // What Flink disposed is gone from the bucket; what is kept is still there.
  const keys = await savepointKeys();
  const disposed = [...seen.keys()].filter((l) => !kept.includes(l));
  assert.ok(disposed.length >= 2, `old savepoints were disposed: ${disposed.join(", ")}`);
  for (const l of disposed) assert.ok(!keys.includes(metadataKey(l)), `${l} disposed: ${keys.join(", ")}`);
  for (const l of kept) assert.ok(keys.includes(metadataKey(l)), `${l} kept in the bucket`);
  assert.equal(final.lastSavepoint?.location, kept.at(-1));
});
