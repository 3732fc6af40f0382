// The world of the workspace agent's tests with state on S3 (test helper): the local cluster, S3Proxy
// on loopback with one bucket, and one workspace provisioned for storage in it the way the agent does
// (storage-workspace.ts); and the example streaming job those tests deploy.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkspaceSpec } from "@meridian/shared/protocol/index";
import type { WorkspaceAgentConfig } from "@meridian/workspace-agent/config";
import { type S3Server, startS3Server } from "../cluster/s3/s3-server.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import { createWorkspace, type Env, EXAMPLE_JOB, FLINK_IMAGE, startEnv, type Workspace } from "./harness.ts";
import { provisionStorage } from "./storage-workspace.ts";

export interface S3Env {
  env: Env;
  s3: S3Server;
  ws: Workspace;
  /** The workspace agent's storage settings, as its settings loader reads them in its pod. */
  settings: Partial<WorkspaceAgentConfig>;
  stop(): Promise<void>;
}

/** Starts the cluster and S3Proxy, creates `bucket` and workspace `id` with its storage in it. */
export async function startS3Env(
  id: string,
  bucket: string,
  identity?: WorkspaceSpec["identity"],
): Promise<S3Env> {
  const dir = await mkdtemp(join(tmpdir(), "meridian-s3-"));
  const [env, s3] = await Promise.all([startEnv(), startS3Server({ dir })]);
  await s3.createBucket(bucket);
  const ws = await createWorkspace(env, id);
  const settings = await provisionStorage(env, ws, s3, { bucket, ...(identity ? { identity } : {}) });
  return {
    env,
    s3,
    ws,
    settings,
    stop: async () => {
      await env.stop();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The Flink image's example streaming job on one slot, small pods, checkpoints every 3 s. */
export function exampleJob(over: Partial<DeploymentBody> = {}): DeploymentBody {
  return {
    image: FLINK_IMAGE,
    job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
    parallelism: 1,
    jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
    taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
    flinkConfiguration: { "execution.checkpointing.interval": "3 s" },
    state: "RUNNING",
    upgradeMode: "SAVEPOINT",
    ...over,
  };
}
