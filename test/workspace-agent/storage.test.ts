// A workspace whose storage is an S3 bucket (S3Proxy on loopback, reached through Flink's S3 plugin
// that the pods enable like the official image) and whose Flink pods run as the Flink
// ServiceAccount: checkpoints and a savepoint land in the bucket (listed through the S3 API), the
// restarted job restores from the savepoint there, and a deployment that points its state elsewhere
// is refused naming the field. The workspace agent gets its storage settings the way the agent gives
// them (the agent's rendered environment, loaded by the workspace agent's own settings loader). One
// Flink job serves every case: JVMs are slow on two cores.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { type S3Server, startS3Server } from "../cluster/s3/s3-server.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  condition,
  createWorkspace,
  type Env,
  EXAMPLE_JOB,
  FLINK_IMAGE,
  kubeGet,
  reported,
  startAgent,
  startEnv,
  type Workspace,
  waitFor,
} from "./harness.ts";
import { provisionStorage, restartRestoresFromSavepoint } from "./storage-workspace.ts";

const BUCKET = "flink-state";
const WS = "store";
const NAME = "orders";
const ROLE = "arn:aws:iam::123456789012:role/meridian-flink-store";
const AREA = `s3://${BUCKET}/workspaces/${WS}/${NAME}`;

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
  // HA off (a spec may turn it off): this file is about storage and identity; recovery.test.ts runs HA.
  flinkConfiguration: { "execution.checkpointing.interval": "3 s", "high-availability.type": "NONE" },
  state: "RUNNING",
  upgradeMode: "SAVEPOINT",
};

// biome-ignore lint/suspicious/noExplicitAny: tests navigate API objects freely
type Obj = Record<string, any>;
const pod = (name: string) => kubeGet<Obj>(env, `/api/v1/namespaces/${ws.namespace}/pods/${name}`);
const status = () => reported(env, ws, NAME);

before(async () => {
  s3Dir = await mkdtemp(join(tmpdir(), "meridian-s3-"));
  [env, s3] = await Promise.all([startEnv(), startS3Server({ dir: s3Dir })]);
  await s3.createBucket(BUCKET);
  ws = await createWorkspace(env, WS);
  // What the agent makes of this workspace: its Flink ServiceAccount and the workspace agent's storage
  // environment (read back by the workspace agent's own settings loader, as in its pod).
  const settings = await provisionStorage(env, ws, s3, { bucket: BUCKET, identity: { awsRoleArn: ROLE } });
  agent = await startAgent(env, ws, settings);
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
  await s3?.stop();
  if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
});

test("Flink pods run as the Flink ServiceAccount with its identity annotation and no Kubernetes token", async () => {
  const running = await waitFor(
    "job RUNNING",
    async () => {
      const s = await status();
      return s?.job.state === "RUNNING" && condition(s, "Ready")?.status === "True" ? s : undefined;
    },
    240_000,
    500,
  );
  assert.ok(running.job.id);
  const sa = await kubeGet<Obj>(env, `/api/v1/namespaces/${ws.namespace}/serviceaccounts/meridian-flink`);
  assert.equal(sa?.metadata.annotations?.["eks.amazonaws.com/role-arn"], ROLE);
  for (const name of [`${NAME}-jobmanager`, `${NAME}-taskmanager-0`]) {
    const p = await pod(name);
    assert.equal(p?.spec.serviceAccountName, "meridian-flink", name);
    assert.equal(p?.spec.automountServiceAccountToken, false, name);
    const text = JSON.stringify(p?.spec);
    assert.doesNotMatch(text, /serviceAccountToken|kube-api-access|meridian-workspace-credential/, name);
    assert.doesNotMatch(text, new RegExp(s3.credentials.secretAccessKey), `${name}: no literal key`);
    const env0 = p?.spec.containers[0].env as Obj[];
    assert.equal(
      env0.find((e) => e.name === "ENABLE_BUILT_IN_PLUGINS")?.value,
      "flink-s3-fs-hadoop-2.3.0.jar",
    );
    // The process itself got no kubeconfig (the simulator writes one only for a mounted token).
    for (const pid of env.sim.podProcesses(ws.namespace, name)) {
      const { readFile } = await import("node:fs/promises");
      const environ = (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0");
      assert.ok(!environ.some((e) => e.startsWith("KUBECONFIG=")), `${name}: no KUBECONFIG in the process`);
      assert.ok(
        environ.includes(`AWS_ACCESS_KEY_ID=${s3.credentials.accessKeyId}`),
        `${name}: keys from the Secret`,
      );
    }
  }
  const cm = await kubeGet<Obj>(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`);
  assert.doesNotMatch(
    JSON.stringify(cm),
    new RegExp(s3.credentials.secretAccessKey),
    "no key in the ConfigMap",
  );
});

test("checkpoints land in the bucket under <base>/<deployment>/checkpoints, over the S3 API", async () => {
  const keys = await waitFor(
    "a completed checkpoint in the bucket",
    async () => {
      const k = await s3.listObjects(BUCKET, `workspaces/${WS}/${NAME}/checkpoints/`);
      return k.some((key) => /\/chk-\d+\/_metadata$/.test(key)) ? k : undefined;
    },
    120_000,
    1000,
  );
  assert.ok(
    keys.every((k) => k.startsWith(`workspaces/${WS}/${NAME}/checkpoints/`)),
    keys.join(", "),
  );
});

test("a deployment that points its state outside its part of the workspace storage is refused, naming the field", async () => {
  await env.cp.admin.putDeployment(ws.id, "elsewhere", {
    ...spec,
    flinkConfiguration: { "execution.checkpointing.savepoint-dir": `s3://${BUCKET}/workspaces/other/x` },
  });
  const s = await waitFor(
    "the refusal reported",
    async () => {
      const st = await reported(env, ws, "elsewhere");
      return st?.phase === "Refused" ? st : undefined;
    },
    120_000,
  );
  const c = condition(s, "SpecAligned");
  assert.equal(c?.reason, "SpecRefused");
  assert.match(
    c?.message ?? "",
    /^flinkConfiguration\.execution\.checkpointing\.savepoint-dir: .*must lie at or under/,
  );
  assert.equal(await pod("elsewhere-jobmanager"), undefined, "nothing created for it");
});

test("a restart stops the job with a savepoint in the bucket and restores from it", async () => {
  const location = await restartRestoresFromSavepoint(env, ws, NAME, spec, AREA);
  const key = `${location.slice(`s3://${BUCKET}/`.length)}/_metadata`;
  assert.ok((await s3.listObjects(BUCKET, `workspaces/${WS}/${NAME}/savepoints/`)).includes(key), key);
});
