// A workspace whose storage is an Azure Blob container (Azurite on loopback, reached through Flink's
// Azure plugin, flink-azure-fs-hadoop, that the pods enable like the official image) with the
// storage account's shared key from a Secret in the workspace namespace: checkpoints and a savepoint
// land in the container (listed through the Blob REST API), and the restarted job restores from the
// savepoint there. The JVMs reach `devstoreaccount1.blob.core.windows.net` over TLS through a CONNECT
// proxy that tunnels it to Azurite (test/cluster/azure/azurite.ts): the URIs, the plugin and the key
// are what an AKS cluster without Workload Identity uses. One Flink job: JVMs are slow on two cores.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import type { WorkspaceAgent } from "@meridian/workspace-agent/agent";
import { parse as parseYaml } from "yaml";
import { buildFlinkServiceAccount } from "../../agent/src/workspace/storage-objects.ts";
import { type AzuriteServer, startAzurite } from "../cluster/azure/azurite.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import {
  apply,
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
import { restartRestoresFromSavepoint, storageSettings } from "./storage-workspace.ts";

const CONTAINER = "flink-state";
const WS = "blob";
const NAME = "orders";
const KEY_SECRET = "azure-storage-key";

let env: Env;
let ws: Workspace;
let az: AzuriteServer;
let dir: string;
let agent: WorkspaceAgent | undefined;
let spec: DeploymentBody;
let area: string;

// biome-ignore lint/suspicious/noExplicitAny: tests navigate API objects freely
type Obj = Record<string, any>;
const pod = (name: string) => kubeGet<Obj>(env, `/api/v1/namespaces/${ws.namespace}/pods/${name}`);
const status = () => reported(env, ws, NAME);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-azurite-"));
  [env, az] = await Promise.all([startEnv(), startAzurite({ dir })]);
  await az.createContainer(CONTAINER);
  ws = await createWorkspace(env, WS);
  const baseURI = `wasbs://${CONTAINER}@${az.accountHost}/workspaces/${WS}/`;
  area = `${baseURI}${NAME}`;
  // What the agent makes of this workspace: the Flink ServiceAccount, the Secret the user created
  // with the account key, and the workspace agent's storage environment (read back by its own loader).
  const workspace = workspaceSpec.parse({
    id: ws.id,
    generation: 1,
    quota: { cpu: "16", memory: "32Gi" },
    storage: { baseURI, credentialsSecret: KEY_SECRET },
  });
  await apply(env, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    ...buildFlinkServiceAccount(workspace, ws.namespace),
  } as never);
  await apply(env, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: KEY_SECRET, namespace: ws.namespace },
    data: { AZURE_STORAGE_ACCOUNT_KEY: Buffer.from(az.accountKey).toString("base64") },
  } as never);
  agent = await startAgent(env, ws, storageSettings(env, ws, workspace));
  spec = {
    image: FLINK_IMAGE,
    job: { jarURI: "local:///opt/flink/usrlib/flink-examples-streaming-2.3.0.jar", entryClass: EXAMPLE_JOB },
    parallelism: 1,
    jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
    taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1 },
    flinkConfiguration: {
      "execution.checkpointing.interval": "3 s",
      "high-availability.type": "NONE",
      // The test's network: HTTPS through the proxy to Azurite, trusting the test CA.
      "env.java.opts.all": az.javaOptions.join(" "),
    },
    state: "RUNNING",
    upgradeMode: "SAVEPOINT",
  };
  await env.cp.admin.putDeployment(ws.id, NAME, spec);
});

after(async () => {
  await agent?.stop();
  await env?.stop();
  await az?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("Flink pods enable the Azure plugin and get the account key from the Secret, never as a literal", async () => {
  await waitFor(
    "job RUNNING",
    async () => {
      const s = await status();
      return s?.job.state === "RUNNING" && condition(s, "Ready")?.status === "True" ? s : undefined;
    },
    240_000,
    500,
  );
  for (const name of [`${NAME}-jobmanager`, `${NAME}-taskmanager-0`]) {
    const p = await pod(name);
    const env0 = p?.spec.containers[0].env as Obj[];
    assert.equal(
      env0.find((e) => e.name === "ENABLE_BUILT_IN_PLUGINS")?.value,
      "flink-azure-fs-hadoop-2.3.0.jar",
      name,
    );
    assert.deepEqual(env0.find((e) => e.name === "AZURE_STORAGE_ACCOUNT_KEY")?.valueFrom, {
      secretKeyRef: { name: KEY_SECRET, key: "AZURE_STORAGE_ACCOUNT_KEY" },
    });
    assert.ok(!JSON.stringify(p?.spec).includes(az.accountKey), `${name}: no literal key`);
  }
  const cm = await kubeGet<Obj>(env, `/api/v1/namespaces/${ws.namespace}/configmaps/${NAME}-flink-config`);
  assert.ok(!JSON.stringify(cm).includes(az.accountKey), "no key in the ConfigMap");
  const config = parseYaml(cm?.data["config.yaml"]) as Record<string, string>;
  assert.equal(
    config[`fs.azure.account.key.${az.accountHost}`],
    `\${env.AZURE_STORAGE_ACCOUNT_KEY}`,
    "the ConfigMap names the variable Hadoop resolves, not the key",
  );
});

test("checkpoints land in the container under <base>/<deployment>/checkpoints, over the Blob API", async () => {
  const names = await waitFor(
    "a completed checkpoint in the container",
    async () => {
      const n = await az.listBlobs(CONTAINER, `workspaces/${WS}/${NAME}/checkpoints/`);
      return n.some((b) => /\/chk-\d+\/_metadata$/.test(b)) ? n : undefined;
    },
    120_000,
    1000,
  );
  assert.ok(names.length > 0);
  assert.ok(az.tunnels() > 0, "the JVMs went through the proxy to the account host");
});

test("a restart stops the job with a savepoint in the container and restores from it", async () => {
  const location = await restartRestoresFromSavepoint(env, ws, NAME, spec, area);
  const blob = `${location.slice(`wasbs://${CONTAINER}@${az.accountHost}/`.length)}/_metadata`;
  assert.ok((await az.listBlobs(CONTAINER, `workspaces/${WS}/${NAME}/savepoints/`)).includes(blob), blob);
});
