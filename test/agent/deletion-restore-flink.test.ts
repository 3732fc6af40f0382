// Deleting a workspace keeps its Flink state, with everything real (issue 12, deliverable 9): the
// agent in-process, the workspace agent it deploys run by the node simulator from its bundle, Flink
// JobManager and TaskManager as JVMs, and the workspace's storage an S3 bucket on S3Proxy reached
// through Flink's S3 plugin. A SAVEPOINT job whose workspace is deleted through the control plane
// leaves a final savepoint in the bucket; its location is in the agent's status (finalSavepoints)
// while the namespace still exists; the control plane hands it to the deployment of a new workspace
// with the same id (job.initialSavepointPath), and Flink's REST API says the new job restored from
// it. Then the same through orphan expiry: a control plane that lost its data, a 5 s grace period.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { KubeList, KubeObject } from "@meridian/shared/kube/resources";
import { silentLogger } from "@meridian/shared/log";
import type { WorkspaceStatus } from "@meridian/shared/protocol/index";
import { flinkImageHandler } from "../cluster/flink/image-handler.ts";
import { defaultImageMap, type NodeSimulator, startNodeSimulator } from "../cluster/node-simulator/index.ts";
import { type S3Server, startS3Server } from "../cluster/s3/s3-server.ts";
import type { DeploymentBody, WorkspaceBody } from "../control-plane/index.ts";
import { exampleDeployment, STATEFUL_EXAMPLE_ENTRY_CLASS } from "../e2e/workload.ts";
import { type Harness, startHarness, waitFor } from "./harness.ts";

const BUCKET = "flink-state";
const WS = "ledger";
const NS = `mw-${WS}`;
const NAME = "orders";
const KEYS_SECRET = "s3-keys";
const GRACE_SECONDS = 5;
const SAVEPOINTS = `s3://${BUCKET}/workspaces/${WS}/${NAME}/savepoints/`;

// The e2e example deployment running TopSpeedWindowing (windowed keyed state) with a savepoint on
// delete and checkpoints every 3 s, a failed one tolerated (S3Proxy is slow on a loaded machine); HA off,
// as this file is about the final savepoint (recovery.test.ts runs HA).
const example = exampleDeployment();
const spec: DeploymentBody = {
  ...example,
  job: { ...example.job, entryClass: STATEFUL_EXAMPLE_ENTRY_CLASS },
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  flinkConfiguration: {
    "execution.checkpointing.interval": "3 s",
    "execution.checkpointing.tolerable-failed-checkpoints": "10",
    "high-availability.type": "NONE",
  },
  upgradeMode: "SAVEPOINT",
};

let dir: string;
let h: Harness;
let sim: NodeSimulator;
let s3: S3Server;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-deletion-restore-"));
  [h, s3] = await Promise.all([startHarness(), startS3Server({ dir: join(dir, "s3") })]);
  await s3.createBucket(BUCKET);
  sim = await startNodeSimulator({
    cluster: h.cluster,
    nodes: 1,
    imageMap: defaultImageMap([flinkImageHandler({ dataDir: join(dir, "flink-data") })]),
    dir: join(dir, "node-simulator"),
    logger: silentLogger(),
  });
  const policyFile = await h.writePolicy({
    orphanGracePeriodSeconds: GRACE_SECONDS,
    storage: { allowedURIs: [`s3://${BUCKET}/`], s3: { endpoint: s3.endpoint, pathStyleAccess: true } },
  });
  await h.startAgent({ policyFile });
});

after(async () => {
  await sim?.stop();
  await h?.stop();
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
});

const workspace: WorkspaceBody = {
  quota: { cpu: "8", memory: "16Gi" },
  storage: { baseURI: `s3://${BUCKET}/workspaces/${WS}/`, credentialsSecret: KEYS_SECRET },
};

const statusOf = async (): Promise<WorkspaceStatus | undefined> =>
  (await h.cp.admin.getAgentStatus(h.agentId))?.workspaces.find((w) => w.id === WS);

/** The workspace created (again) through the control plane, with its storage keys in a Secret. */
async function createWorkspace(): Promise<void> {
  await h.cp.admin.putWorkspace(h.agentId, WS, workspace);
  await waitFor(
    `namespace ${NS}`,
    async () => {
      const ns = await h.admin.getOrUndefined<KubeObject>(`/api/v1/namespaces/${NS}`);
      return ns && !ns.metadata?.deletionTimestamp;
    },
    120_000,
  );
  const b64 = (v: string) => Buffer.from(v).toString("base64");
  await h.admin.request({
    method: "POST",
    path: `/api/v1/namespaces/${NS}/secrets`,
    body: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: KEYS_SECRET },
      data: {
        AWS_ACCESS_KEY_ID: b64(s3.credentials.accessKeyId),
        AWS_SECRET_ACCESS_KEY: b64(s3.credentials.secretAccessKey),
      },
    },
  });
}

/**
 * The deployment RUNNING (Ready) as reported to the control plane, at generation `generation` or
 * later; its job id. The generation matters after a workspace is re-created with the same id: the
 * control plane still holds the deleted workspace's last status of the deployment, RUNNING under the
 * old job's id, until the new workspace agent reports.
 */
async function running(what: string, generation = 0): Promise<string> {
  const s = await waitFor(
    what,
    async () => {
      const st = await h.cp.admin.getDeploymentStatus(WS, NAME).catch(() => null);
      const ready = st?.conditions.find((c) => c.type === "Ready")?.status === "True";
      const current = (st?.observedGeneration ?? -1) >= generation;
      return st?.job.state === "RUNNING" && st.job.id && ready && current ? st : undefined;
    },
    360_000,
  );
  return s.job.id!;
}

/**
 * Where Flink's REST API says job `jobId` restored its state from, asked at the JobManager pod's IP and
 * at the address its Service name has in the pods' hosts file (what the workspace agent asks), both
 * read afresh on every try: on a loaded machine the JobManager may restart, or be replaced with a new
 * IP, after the job was first seen RUNNING.
 */
async function restoredFrom(jobId: string): Promise<string> {
  const service = `${NAME}-jobmanager.${NS}.svc`;
  return waitFor(
    "Flink's REST API naming the restored savepoint",
    async () => {
      const jm = await h.admin.getOrUndefined<{ status?: { podIP?: string } }>(
        `/api/v1/namespaces/${NS}/pods/${NAME}-jobmanager`,
      );
      const hosts = await readFile(sim.hostsFile, "utf8").catch(() => "");
      const viaService = hosts
        .split("\n")
        .find((l) => l.split(/\s+/).includes(service))
        ?.split(/\s+/)[0];
      const ips = [...new Set([jm?.status?.podIP, viaService].filter((ip): ip is string => !!ip))];
      const problems: string[] = [];
      for (const ip of ips) {
        const url = `http://${ip}:8081/jobs/${jobId}/checkpoints`;
        try {
          const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
          const body = (await r.json()) as { latest?: { restored?: { external_path?: string } } };
          if (body.latest?.restored?.external_path) return body.latest.restored.external_path;
          problems.push(`${url}: no restore reported yet`);
        } catch (err) {
          problems.push(
            `${url}: ${(err as Error).message}: ${((err as Error).cause as Error | undefined)?.message}`,
          );
        }
      }
      throw new Error(problems.join("; ") || "no address for the JobManager yet");
    },
    300_000,
  );
}

/**
 * Until the namespace is gone: the final savepoint must be in the agent's status while the
 * namespace still exists, and in the bucket. Returns its location.
 */
async function finalSavepointBeforeNamespaceGoes(): Promise<string> {
  let reported: string | undefined;
  let namespaceLeftWhenReported = false;
  await waitFor(
    "the namespace gone",
    async () => {
      const ns = await h.admin.getOrUndefined<KubeObject>(`/api/v1/namespaces/${NS}`);
      if (!reported) {
        reported = (await statusOf())?.finalSavepoints?.find((f) => f.deployment === NAME)?.location;
        if (reported) namespaceLeftWhenReported = ns !== undefined;
      }
      return ns === undefined;
    },
    300_000,
  ).catch(async (err: Error) => {
    const blocked = (await statusOf())?.conditions.find((c) => c.type === "DeletionBlocked");
    const cm = await h.admin.getOrUndefined<KubeObject>(
      `/api/v1/namespaces/${NS}/configmaps/${NAME}-flink-config`,
    );
    throw new Error(
      `${err.message}; DeletionBlocked: ${JSON.stringify(blocked)}; lifecycle state: ${cm?.metadata?.annotations?.["meridian.dev/lifecycle-state"]}`,
    );
  });
  assert.ok(reported, "no final savepoint was reported upward");
  assert.ok(namespaceLeftWhenReported, "the final savepoint was reported only after the namespace was gone");
  assert.ok(reported.startsWith(SAVEPOINTS), `${reported} is not under ${SAVEPOINTS}`);
  const key = `${reported.slice(`s3://${BUCKET}/`.length)}/_metadata`;
  const keys = await s3.listObjects(BUCKET, `workspaces/${WS}/${NAME}/savepoints/`);
  assert.ok(keys.includes(key), `${key} not in the bucket: ${keys.join(", ")}`);
  return reported;
}

/** A new workspace with the same id: its deployment gets the final savepoint and restores from it. */
async function recreateAndRestore(finalSavepoint: string): Promise<void> {
  await createWorkspace();
  const put = await h.cp.admin.putDeployment(WS, NAME, spec);
  assert.equal(put.deployment.job.initialSavepointPath, finalSavepoint, "the control plane's restore path");
  const jobId = await running("the new workspace's job RUNNING", put.deployment.generation);
  assert.equal(await restoredFrom(jobId), finalSavepoint, "the job restored from the final savepoint");
  const reported = await waitFor(
    "the restore reported upward (checkpoints.restored)",
    async () => (await h.cp.admin.getDeploymentStatus(WS, NAME))?.checkpoints?.restored,
    60_000,
  );
  assert.equal(reported.location, finalSavepoint, "the restore reported upward");
  assert.equal(reported.savepoint, true);
}

test("a deleted workspace's SAVEPOINT job leaves a final savepoint in the bucket, reported first; a new workspace with the same id restores from it", async () => {
  await createWorkspace();
  await h.cp.admin.putDeployment(WS, NAME, spec);
  await running("the job RUNNING");
  await h.cp.admin.deleteWorkspace(h.agentId, WS);
  const final = await finalSavepointBeforeNamespaceGoes();
  await recreateAndRestore(final);
});

test("orphan expiry takes a final savepoint before the namespace goes, and a new workspace with the same id restores from it", async () => {
  const before = await h.admin.request<KubeList>({
    method: "GET",
    path: `/api/v1/namespaces/${NS}/pods`,
    query: { labelSelector: `meridian.dev/deployment=${NAME}` },
  });
  assert.ok(before.items.length >= 2, "the restored job of the previous test runs");
  const previous = (await h.cp.admin.getDeployment(WS, NAME)).job.initialSavepointPath;
  // A control plane that lost its data: the workspace is missing from its snapshot, an orphan.
  await h.replaceControlPlane();
  const final = await finalSavepointBeforeNamespaceGoes();
  assert.notEqual(final, previous, "a new final savepoint, not the restore point of the run");
  await recreateAndRestore(final);
});
