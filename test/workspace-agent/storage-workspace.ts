// What the agent makes of a workspace with storage, for the workspace agent's integration tests: the
// Flink ServiceAccount (with its identity annotations and the binding of the chart's Kubernetes HA ClusterRole), the Secret with the
// S3 server's keys, and the workspace agent's storage settings as its own settings loader reads them
// from the environment the agent renders (as in its pod); and the check that a restart restores from
// the savepoint it took, whatever the store.
import assert from "node:assert/strict";
import { type WorkspaceSpec, workspaceSpec } from "@meridian/shared/protocol/index";
import { loadConfig, type WorkspaceAgentConfig } from "@meridian/workspace-agent/config";
import {
  buildFlinkRoleBinding,
  buildFlinkServiceAccount,
  storageEnv,
} from "../../agent/src/workspace/storage-objects.ts";
import type { S3Server } from "../cluster/s3/s3-server.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import { apply, type Env, kubeGet, reported, type Workspace, waitFor } from "./harness.ts";
import { chartClusterRole, TEST_CLUSTER_ROLES } from "./rbac.ts";

export const S3_KEYS_SECRET = "s3-keys";

/**
 * S3Proxy's file-system backend keeps an empty "directory" (the marker S3A's mkdirs writes) as a
 * directory it does not list, so S3A finds no directory there; on S3 the marker is an object. Flink's
 * Kubernetes HA lists its result stores (`<ha>/job-result-store/<cluster id>`,
 * `<ha>/application-result-store/<cluster id>`) right after creating them and stops when they are not
 * found: a placeholder object in each (Flink reads only its `.json` entries) makes them exist here as
 * they do on S3.
 */
export async function seedHaStores(
  s3: S3Server,
  bucket: string,
  haDir: string,
  clusterId: string,
): Promise<void> {
  for (const store of ["job-result-store", "application-result-store"])
    await s3.putObject(bucket, `${haDir}/${store}/${clusterId}/.s3proxy-directory`, "");
}

/** Provisions `ws` for storage under `s3://<bucket>/workspaces/<id>/`; returns the workspace agent's settings. */
export async function provisionStorage(
  env: Env,
  ws: Workspace,
  s3: S3Server,
  opts: { bucket: string; identity?: WorkspaceSpec["identity"] },
): Promise<Partial<WorkspaceAgentConfig>> {
  const workspace = workspaceSpec.parse({
    id: ws.id,
    generation: 1,
    quota: { cpu: "16", memory: "32Gi" },
    storage: { baseURI: `s3://${opts.bucket}/workspaces/${ws.id}/`, credentialsSecret: S3_KEYS_SECRET },
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
  await apply(env, chartClusterRole("flink-clusterrole-rules.yaml", TEST_CLUSTER_ROLES.flink));
  for (const [kind, apiVersion, obj] of [
    ["ServiceAccount", "v1", buildFlinkServiceAccount(workspace, ws.namespace)],
    [
      "RoleBinding",
      "rbac.authorization.k8s.io/v1",
      buildFlinkRoleBinding(workspace, ws.namespace, TEST_CLUSTER_ROLES.flink),
    ],
  ] as const)
    await apply(env, { apiVersion, kind, ...obj } as never);
  const b64 = (v: string) => Buffer.from(v).toString("base64");
  await apply(env, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: S3_KEYS_SECRET, namespace: ws.namespace },
    data: {
      AWS_ACCESS_KEY_ID: b64(s3.credentials.accessKeyId),
      AWS_SECRET_ACCESS_KEY: b64(s3.credentials.secretAccessKey),
    },
  } as never);
  return storageSettings(env, ws, workspace, { endpoint: s3.endpoint, pathStyleAccess: true });
}

/**
 * The workspace agent's storage settings for `workspace` as its own settings loader reads them from
 * the environment the agent renders (with `storageS3`, the local policy's S3-compatible endpoint).
 */
export function storageSettings(
  env: Env,
  ws: Workspace,
  workspace: WorkspaceSpec,
  storageS3?: { endpoint: string; pathStyleAccess: boolean },
): Partial<WorkspaceAgentConfig> {
  const rendered = Object.fromEntries(
    storageEnv(workspace, storageS3 ? { storageS3 } : {}).map(([v, value]) => [v.name, value]),
  );
  const loaded = loadConfig({
    flags: {},
    env: {
      ...rendered,
      MERIDIAN_CONTROL_PLANE_URL: env.cp.url,
      MERIDIAN_WORKSPACE_ID: ws.id,
      MERIDIAN_NAMESPACE: ws.namespace,
    },
  });
  return {
    storageBaseURI: loaded.storageBaseURI,
    storageCredentialsSecret: loaded.storageCredentialsSecret,
    storageS3Endpoint: loaded.storageS3Endpoint,
    storageS3PathStyleAccess: loaded.storageS3PathStyleAccess,
    flinkServiceAccount: loaded.flinkServiceAccount,
  };
}

/**
 * Restarts deployment `name` (restartNonce 1) and waits for its new job: the stop took a savepoint
 * under `<area>/savepoints/`, the new JobManager starts `--fromSavepoint` it, and Flink's REST API
 * reports the job restored from it. Returns the savepoint's location.
 */
export async function restartRestoresFromSavepoint(
  env: Env,
  ws: Workspace,
  name: string,
  spec: DeploymentBody,
  area: string,
): Promise<string> {
  const before = await reported(env, ws, name);
  await env.cp.admin.putDeployment(ws.id, name, { ...spec, restartNonce: 1 });
  const s = await waitFor(
    "restarted job RUNNING",
    async () => {
      const st = await reported(env, ws, name);
      return st?.observedRestartNonce === 1 && st.job.state === "RUNNING" && st.job.id !== before?.job.id
        ? st
        : undefined;
    },
    300_000,
    1000,
  );
  const location = s.lastSavepoint?.location ?? "";
  assert.ok(location.startsWith(`${area}/savepoints/savepoint-`), location);
  // biome-ignore lint/suspicious/noExplicitAny: tests navigate API objects freely
  const jm = await kubeGet<Record<string, any>>(
    env,
    `/api/v1/namespaces/${ws.namespace}/pods/${name}-jobmanager`,
  );
  assert.deepEqual(jm?.spec.containers[0].args.slice(3, 5), ["--fromSavepoint", location]);
  const restored = await waitFor(
    "Flink reports the restore",
    async () => {
      const r = await fetch(`http://${jm?.status.podIP}:8081/jobs/${s.job.id}/checkpoints`, {
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await r.json()) as { latest?: { restored?: { external_path?: string } } };
      return body.latest?.restored?.external_path;
    },
    60_000,
    1000,
  );
  assert.equal(restored, location, "the job's state came from the savepoint");
  return location;
}
