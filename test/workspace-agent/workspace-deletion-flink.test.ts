// A workspace deletion with real Flink (issue 12, deliverable 9): a SAVEPOINT job runs (real JVMs)
// under an in-process workspace agent; the agent's mark on the credential Secret
// (meridian.dev/workspace-deleting) makes the workspace agent stop the job with a final savepoint,
// which is on disk, recorded in the deployment's lifecycle state (where the agent reads it while the
// workspace drains) and reported upward in the deployment's status before its ConfigMap is gone.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { parseState } from "@meridian/workspace-agent/flink/lifecycle-state";
import {
  condition,
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  kubeGet,
  podsOf,
  reported,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";

let env: Env;
let ws: Workspace;
let agent: WorkspaceAgent | undefined;
const NAME = "ledger";

before(async () => {
  env = await startEnv();
  ws = await createWorkspace(env, "team-gone");
  agent = await startAgent(env, ws);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
});

test("a running SAVEPOINT job is stopped with a final savepoint when its workspace is deleted", async () => {
  await env.cp.admin.putDeployment(ws.id, NAME, {
    image: FLINK_IMAGE,
    job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
    parallelism: 1,
    jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
    taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
    state: "RUNNING",
    upgradeMode: "SAVEPOINT",
  });
  await waitFor(
    "the job RUNNING",
    async () => {
      const s = await reported(env, ws, NAME);
      return s?.job.state === "RUNNING" && condition(s, "Ready")?.status === "True";
    },
    240_000,
    500,
  );

  await env.admin.request({
    method: "PATCH",
    path: `/api/v1/namespaces/${ws.namespace}/secrets/meridian-workspace-credential`,
    contentType: "application/merge-patch+json",
    body: { metadata: { annotations: { "meridian.dev/workspace-deleting": new Date().toISOString() } } },
  });
  let recorded: string | undefined;
  let reportedUpward: string | undefined;
  const cmPath = `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`;
  await waitFor(
    "the deployment deleted",
    async () => {
      const cm = await kubeGet<{ metadata?: { annotations?: Record<string, string> } }>(env, cmPath);
      const parsed = parseState(cm?.metadata?.annotations?.["meridian.dev/lifecycle-state"]);
      if (parsed.ok && parsed.state?.op?.kind === "delete" && parsed.state.op.savepoint)
        recorded = parsed.state.op.savepoint;
      const s = await reported(env, ws, NAME);
      if (s?.lastSavepoint?.trigger === "delete") reportedUpward = s.lastSavepoint.location;
      return !cm && (await podsOf(env, ws.namespace, NAME)).length === 0;
    },
    180_000,
    100,
  );
  assert.ok(recorded, "the final savepoint was recorded in the lifecycle state before the ConfigMap went");
  const path = recorded.replace(/^file:(\/\/)?/, "");
  assert.ok(existsSync(`${path}/_metadata`), `the final savepoint is on disk at ${path}`);
  assert.equal(reportedUpward, recorded, "the final savepoint's location was reported upward");
});
