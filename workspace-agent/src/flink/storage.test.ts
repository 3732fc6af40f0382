import assert from "node:assert/strict";
import { test } from "node:test";
import { type DeploymentSpecInput, deploymentSpec } from "@meridian/shared/protocol/index";
import { parse } from "yaml";
import {
  buildConfigMap,
  buildJobManagerPod,
  buildTaskManagerPod,
  type DeploymentContext,
} from "./objects.ts";
import { SPEC_INPUT } from "./spec.testutil.ts";
import { refuseSpec } from "./spec-policy.ts";
import { type FlinkStorage, flinkVersionOf, refuseStorage } from "./storage.ts";

const input: DeploymentSpecInput = { ...SPEC_INPUT, image: "flink:2.3.0-java17" };
const S3: FlinkStorage = {
  baseURI: "s3://acme-state/flink",
  serviceAccount: "meridian-flink",
  s3Endpoint: "http://127.0.0.1:9000",
  s3PathStyleAccess: true,
  credentialsSecret: "s3-keys",
};
const spec = (over: Partial<DeploymentSpecInput> = {}) => deploymentSpec.parse({ ...input, ...over });
const ctx = (
  storage: FlinkStorage | undefined,
  over: Partial<DeploymentSpecInput> = {},
): DeploymentContext => ({
  workspaceId: "team-a",
  namespace: "mw-team-a",
  spec: spec(over),
  savepointBaseDir: "file:///flink-data/savepoints",
  storage,
});
const owner = { name: "orders-flink-config", uid: "uid-1" };
const run = { id: 1, specHash: "h" };
const config = (c: DeploymentContext) =>
  parse(buildConfigMap(c, "{}").data?.["config.yaml"] ?? "") as Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: tests navigate built objects freely
const flat = (o: any, prefix = ""): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(o).flatMap(([k, v]) =>
      v && typeof v === "object" ? Object.entries(flat(v, `${prefix}${k}.`)) : [[`${prefix}${k}`, v]],
    ),
  );

test("a workspace with storage puts checkpoints and savepoints under <base>/<deployment>", () => {
  const c = flat(config(ctx(S3)));
  assert.equal(c["execution.checkpointing.dir"], "s3://acme-state/flink/orders/checkpoints");
  assert.equal(c["execution.checkpointing.savepoint-dir"], "s3://acme-state/flink/orders/savepoints");
  assert.equal(c["s3.endpoint"], "http://127.0.0.1:9000");
  assert.equal(c["s3.path.style.access"], "true");
  assert.equal(c["fs.s3a.aws.credentials.provider"], "com.amazonaws.auth.DefaultAWSCredentialsProviderChain");
  assert.equal(c["fs.s3a.directory.marker.retention"], "keep", "no bulk delete after every write");
  for (const v of Object.values(c))
    assert.doesNotMatch(String(v), /s3-keys|AWS_SECRET/, "no credential in config.yaml");
});

test("without storage the savepoint directory stays as before and no plugin, account or checkpoint dir is set", () => {
  const c = flat(config(ctx(undefined)));
  assert.equal(c["execution.checkpointing.savepoint-dir"], "file:///flink-data/savepoints/orders");
  assert.equal(c["execution.checkpointing.dir"], undefined);
  const pod = buildJobManagerPod(ctx(undefined), owner, run);
  assert.equal(pod.spec?.serviceAccountName, undefined);
  assert.equal(
    pod.spec?.containers[0]?.env?.some((e) => e.name === "ENABLE_BUILT_IN_PLUGINS"),
    false,
  );
});

test("Flink pods run as the Flink ServiceAccount without a token, with the S3 plugin and keys by Secret reference", () => {
  for (const pod of [buildJobManagerPod(ctx(S3), owner, run), buildTaskManagerPod(ctx(S3), owner, run, 0)]) {
    assert.equal(pod.spec?.serviceAccountName, "meridian-flink");
    assert.equal(pod.spec?.automountServiceAccountToken, false);
    const env = pod.spec?.containers[0]?.env ?? [];
    assert.equal(
      env.find((e) => e.name === "ENABLE_BUILT_IN_PLUGINS")?.value,
      "flink-s3-fs-hadoop-2.3.0.jar",
    );
    assert.deepEqual(env.find((e) => e.name === "AWS_SECRET_ACCESS_KEY")?.valueFrom, {
      secretKeyRef: { name: "s3-keys", key: "AWS_SECRET_ACCESS_KEY", optional: false },
    });
    assert.ok(
      env.every((e) => e.value === undefined || !/secret/i.test(e.value)),
      "no literal key",
    );
    const mount = pod.spec?.containers[0]?.volumeMounts?.find((m) => m.name === "plugins");
    assert.equal(mount?.mountPath, "/opt/flink/plugins", "a writable plugins dir under a read-only root");
    assert.deepEqual(pod.spec?.volumes?.find((v) => v.name === "plugins")?.emptyDir, {});
  }
});

test("Azure storage enables the Azure plugin, the Workload Identity pod label and ABFS OAuth", () => {
  const az: FlinkStorage = {
    baseURI: "abfss://state@acme.dfs.core.windows.net/flink",
    serviceAccount: "meridian-flink",
    azureClientId: "11111111-2222-3333-4444-555555555555",
  };
  const pod = buildJobManagerPod(ctx(az), owner, run);
  assert.equal(pod.metadata?.labels?.["azure.workload.identity/use"], "true");
  assert.equal(pod.metadata?.labels?.["app.kubernetes.io/component"], "jobmanager");
  const env = pod.spec?.containers[0]?.env ?? [];
  assert.equal(
    env.find((e) => e.name === "ENABLE_BUILT_IN_PLUGINS")?.value,
    "flink-azure-fs-hadoop-2.3.0.jar",
  );
  const c = flat(config(ctx(az)));
  assert.equal(c["fs.azure.account.auth.type"], "OAuth");
  assert.equal(c["fs.azure.account.oauth2.client.id"], az.azureClientId);
  assert.equal(c["execution.checkpointing.savepoint-dir"], `${az.baseURI}/orders/savepoints`);
});

test("an Azure account key comes from the Secret by reference: the config names only the variable", () => {
  const keyed: FlinkStorage = {
    baseURI: "wasbs://state@acme.blob.core.windows.net/flink",
    serviceAccount: "meridian-flink",
    credentialsSecret: "azure-key",
  };
  const env = buildTaskManagerPod(ctx(keyed), owner, run, 0).spec?.containers[0]?.env ?? [];
  assert.deepEqual(env.find((e) => e.name === "AZURE_STORAGE_ACCOUNT_KEY")?.valueFrom, {
    secretKeyRef: { name: "azure-key", key: "AZURE_STORAGE_ACCOUNT_KEY" },
  });
  assert.ok(!env.some((e) => e.name.startsWith("AWS_")), "no S3 keys for Azure storage");
  const c = flat(config(ctx(keyed)));
  assert.equal(c["fs.azure.account.key.acme.blob.core.windows.net"], `\${env.AZURE_STORAGE_ACCOUNT_KEY}`);
  assert.equal(c["fs.azure.account.auth.type"], undefined);
  // Workload Identity wins over a key: no key variable, no key option.
  const both = { ...keyed, azureClientId: "11111111-2222-3333-4444-555555555555" };
  const envBoth = buildJobManagerPod(ctx(both), owner, run).spec?.containers[0]?.env ?? [];
  assert.equal(
    envBoth.find((e) => e.name === "AZURE_STORAGE_ACCOUNT_KEY"),
    undefined,
  );
  assert.equal(flat(config(ctx(both)))["fs.azure.account.key.acme.blob.core.windows.net"], undefined);
});

test("a deployment may narrow its state directories to a sub-path, never widen or move them", () => {
  const ok = (dir: string) =>
    refuseStorage(spec({ flinkConfiguration: { "state.savepoints.dir": dir } }), S3);
  assert.equal(ok("s3://acme-state/flink/orders/savepoints/v2"), undefined);
  assert.equal(ok("s3://acme-state/flink/orders"), undefined);
  for (const bad of [
    "s3://acme-state/flink",
    "s3://acme-state/flink/payments/savepoints",
    "s3://acme-state/flink/orders-evil",
    "s3://other-bucket/flink/orders",
    "s3a://acme-state/flink/orders",
    "s3://acme-state/flink/orders/../payments",
    "file:///flink-data/orders",
  ]) {
    const r = ok(bad);
    assert.equal(r?.field, "flinkConfiguration.state.savepoints.dir", bad);
  }
  const cp = refuseStorage(spec({ flinkConfiguration: { "execution.checkpointing.dir": "s3://x/y" } }), S3);
  assert.match(cp?.message ?? "", /must lie at or under s3:\/\/acme-state\/flink\/orders/);
  const narrowed = flat(
    config(
      ctx(S3, { flinkConfiguration: { "execution.checkpointing.dir": "s3://acme-state/flink/orders/cp2" } }),
    ),
  );
  assert.equal(narrowed["execution.checkpointing.dir"], "s3://acme-state/flink/orders/cp2");
});

test("credentials and S3 routing never come from a spec; a plugin needs a Flink version in the tag", () => {
  for (const key of [
    "s3.access-key",
    "s3.secret-key",
    "fs.s3a.secret.key",
    "fs.azure.account.key.acme.dfs.core.windows.net",
  ]) {
    const r = refuseSpec(spec({ flinkConfiguration: { [key]: "x" } }), {
      allowedRegistries: [],
      allowedJarURIs: [],
    });
    assert.equal(r?.field, `flinkConfiguration.${key}`, key);
  }
  assert.equal(
    refuseStorage(spec({ flinkConfiguration: { "s3.endpoint": "http://evil" } }), S3)?.field,
    "flinkConfiguration.s3.endpoint",
  );
  assert.equal(
    refuseStorage(spec({ flinkConfiguration: { "s3.endpoint": "http://minio" } }), undefined),
    undefined,
  );
  assert.equal(refuseStorage(spec({ image: "flink:2.3" }), S3)?.field, "image");
  assert.equal(refuseStorage(spec({ image: "flink:2.3" }), undefined), undefined);
  assert.equal(flinkVersionOf("registry.example/flink:1.20.1-scala_2.12-java17"), "1.20.1");
  assert.equal(flinkVersionOf("flink:2.3.0@sha256:abcd"), "2.3.0");
  assert.equal(flinkVersionOf("flink@sha256:abcd"), undefined);
  assert.equal(flinkVersionOf("localhost:5000/flink"), undefined);
});
