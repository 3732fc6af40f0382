// A deleted deployment whose job can no longer take a savepoint keeps the newest restorable state
// there is (issue 12, deliverable 7: "the latest savepoint, or the retained checkpoint once
// checkpoints exist"), on real Flink with the state on S3Proxy. The job runs with restart strategy
// `none`, so a TaskManager killed fails it for good (the JobManager stays up: Meridian sets
// execution.shutdown-on-application-finish false). Deleting the deployment then keeps the job's latest
// completed checkpoint as its final state (checkpoints are retained on cancellation, so its `_metadata`
// is still in the bucket), says so in a Warning Event `FinalStateKept`, and a new deployment started from
// that location restores from it, as Flink's REST API reports.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { FlinkProbe } from "./flink-probe.ts";
import { kubeGet, reported, startAgent, waitFor } from "./harness.ts";
import { exampleJob, type S3Env, startS3Env } from "./s3-env.ts";

const BUCKET = "flink-state";
const NAME = "orders";
const AGAIN = "orders-again";

let world: S3Env;
let agent: WorkspaceAgent | undefined;

const spec = exampleJob({
  flinkConfiguration: {
    "execution.checkpointing.interval": "2 s",
    // HA off: with it, Flink would recover the job on its own; this file is about a job that is gone.
    "high-availability.type": "NONE",
    "restart-strategy.type": "none",
  },
});

before(async () => {
  world = await startS3Env("finalstate", BUCKET);
  agent = await startAgent(world.env, world.ws, world.settings);
});

after(async () => {
  await agent?.stop();
  await world?.stop();
});

test("a deleted deployment whose job failed keeps its latest retained checkpoint as the final state, and a new deployment restores from it", async () => {
  const { env, ws, s3 } = world;
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
  await waitFor(
    "a completed checkpoint with a location",
    async () => {
      const s = await reported(env, ws, NAME);
      return s?.job.state === "RUNNING" && s.checkpoints?.latest?.location ? s : undefined;
    },
    240_000,
    300,
  );
  new FlinkProbe(env, ws.namespace, NAME).sigkill(`${NAME}-taskmanager-0`);
  const failed = await waitFor(
    "the job FAILED for good",
    async () => {
      const s = await reported(env, ws, NAME);
      return s?.job.state === "FAILED" ? s : undefined;
    },
    180_000,
    500,
  );
  const last = failed.checkpoints?.latest;
  assert.ok(last?.location, "the failed job's latest checkpoint is known");

  await env.cp.admin.deleteDeployment(ws.id, NAME);
  const event = await waitFor(
    "a FinalStateKept Warning",
    async () => {
      const list = await kubeGet<{ items: { reason: string; type: string; message: string }[] }>(
        env,
        `/api/v1/namespaces/${ws.namespace}/events?fieldSelector=reason%3DFinalStateKept`,
      );
      return list?.items[0];
    },
    60_000,
  );
  assert.equal(event.type, "Warning");
  assert.match(event.message, /no savepoint can be taken \(the job is FAILED\)/);
  assert.ok(
    event.message.includes(last.location),
    `the final state is the latest checkpoint ${last.location}: ${event.message}`,
  );
  await waitFor(
    "the deployment's ConfigMap gone",
    async () => !(await kubeGet(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`)),
    120_000,
  );
  const prefix = `s3://${BUCKET}/`;
  const keys = await s3.listObjects(BUCKET, last.location.slice(prefix.length));
  assert.ok(
    keys.includes(`${last.location.slice(prefix.length)}/_metadata`),
    `the checkpoint is retained in the bucket: ${keys.join(", ")}`,
  );

  // A new deployment from that location: Flink restores the checkpoint.
  await env.cp.admin.putDeployment(ws.id, AGAIN, {
    ...spec,
    job: { ...spec.job, initialSavepointPath: last.location },
  });
  const restored = await waitFor(
    "the new job RUNNING, restored from the kept checkpoint",
    async () => {
      const s = await reported(env, ws, AGAIN);
      return s?.job.state === "RUNNING" && s.checkpoints?.restored ? s : undefined;
    },
    240_000,
    500,
  );
  assert.equal(restored.checkpoints?.restored?.location, last.location);
  assert.equal(restored.checkpoints?.restored?.id, last.id);
});
