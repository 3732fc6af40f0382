import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type DeploymentSpecInput,
  deploymentSpec,
  MERIDIAN_OWNED_FLINK_KEYS,
} from "@meridian/shared/protocol/index";
import { parse } from "yaml";
import { checkImage, imageRepository } from "./image-policy.ts";
import {
  buildConfigMap,
  buildJobManagerPod,
  buildService,
  buildTaskManagerPod,
  type DeploymentContext,
  flinkMemory,
  meridianFlinkConfig,
  names,
  savepointDir,
  specHash,
} from "./objects.ts";

const input: DeploymentSpecInput = {
  name: "orders",
  generation: 1,
  image: "flink:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job", args: ["--x", "1"] },
  parallelism: 2,
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  taskManager: { resources: { cpu: "1", memory: "1536Mi" }, taskSlots: 1 },
  flinkConfiguration: { "restart-strategy.type": "fixed-delay" },
  state: "RUNNING",
};
const ctx = (over: Partial<DeploymentSpecInput> = {}, base?: string): DeploymentContext => ({
  workspaceId: "team-a",
  namespace: "mw-team-a",
  spec: deploymentSpec.parse({ ...input, ...over }),
  savepointBaseDir: base,
});
const owner = { name: "orders-flink-config", uid: "uid-1" };
const run = { id: 3, specHash: "h", restoreFrom: "file:/sp/savepoint-1" };

test("config.yaml: Meridian's keys win over the spec, the spec wins over defaults", () => {
  const c = ctx();
  // The protocol refuses Meridian's keys in a new spec; one stored by an older version may hold them.
  const stored = {
    ...c,
    spec: { ...c.spec, flinkConfiguration: { ...c.spec.flinkConfiguration, "jobmanager.rpc.port": "9999" } },
  };
  const cm = buildConfigMap(stored, '{"v":1}');
  const conf = parse(cm.data?.["config.yaml"] ?? "") as Record<string, string>;
  assert.equal(conf["jobmanager.rpc.address"], "orders-jobmanager.mw-team-a.svc");
  assert.equal(conf["jobmanager.rpc.port"], "6123", "the spec cannot move the RPC port");
  assert.equal(conf["restart-strategy.type"], "fixed-delay", "the spec overrides a default");
  assert.equal(conf["taskmanager.numberOfTaskSlots"], "1");
  assert.equal(conf["parallelism.default"], "2");
  assert.equal(conf["jobmanager.memory.process.size"], "1024m");
  assert.equal(conf["taskmanager.memory.process.size"], "1536m");
  assert.equal(conf["execution.shutdown-on-application-finish"], "false");
  assert.equal(conf["execution.checkpointing.savepoint-dir"], "file:///flink-data/savepoints/orders");
  assert.equal(cm.metadata?.name, "orders-flink-config");
  assert.equal(cm.metadata?.annotations?.["meridian.dev/lifecycle-state"], '{"v":1}');
  assert.ok(cm.data?.["log4j-console.properties"]);
});

test("the keys Meridian sets are exactly the keys the protocol refuses in a spec", () => {
  assert.deepEqual(
    Object.keys(meridianFlinkConfig(ctx())).sort(),
    Object.keys(MERIDIAN_OWNED_FLINK_KEYS).sort(),
  );
  assert.throws(
    () => ctx({ flinkConfiguration: { "jobmanager.rpc.port": "9999" } }),
    /sets keys Meridian owns: jobmanager\.rpc\.port/,
  );
});

test("labels follow the contract on every object", () => {
  const c = ctx();
  for (const obj of [
    buildConfigMap(c, "{}"),
    buildService(c, owner),
    buildJobManagerPod(c, owner, run),
    buildTaskManagerPod(c, owner, run, 0),
  ]) {
    const l = obj.metadata?.labels ?? {};
    assert.equal(l["app.kubernetes.io/part-of"], "meridian");
    assert.equal(l["app.kubernetes.io/managed-by"], "meridian-workspace-agent");
    assert.equal(l["meridian.dev/workspace"], "team-a");
    assert.equal(l["meridian.dev/deployment"], "orders");
    assert.ok(l["app.kubernetes.io/component"]);
  }
});

test("the Service selects the JobManager and exposes rpc, blob and rest", () => {
  const svc = buildService(ctx(), owner);
  assert.equal(svc.metadata?.name, "orders-jobmanager");
  assert.deepEqual(svc.spec?.selector, {
    "meridian.dev/deployment": "orders",
    "app.kubernetes.io/component": "jobmanager",
  });
  assert.deepEqual(
    svc.spec?.ports?.map((p) => [p.name, p.port]),
    [
      ["rpc", 6123],
      ["blob", 6124],
      ["rest", 8081],
    ],
  );
  assert.deepEqual(svc.metadata?.ownerReferences?.[0]?.uid, "uid-1");
});

test("JobManager pod: standalone-job args with the savepoint, resources requests = limits, non-root", () => {
  const pod = buildJobManagerPod(ctx({ job: { ...input.job, allowNonRestoredState: true } }), owner, run);
  const c = pod.spec?.containers[0];
  assert.equal(pod.metadata?.name, "orders-jobmanager");
  assert.deepEqual(c?.args, [
    "standalone-job",
    "--job-classname",
    "org.example.Job",
    "--fromSavepoint",
    "file:/sp/savepoint-1",
    "--allowNonRestoredState",
    "--x",
    "1",
  ]);
  assert.deepEqual(c?.resources?.requests, { cpu: "500m", memory: "1Gi" });
  assert.deepEqual(c?.resources?.limits, c?.resources?.requests);
  assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
  assert.equal(c?.securityContext?.allowPrivilegeEscalation, false);
  assert.deepEqual(c?.securityContext?.capabilities?.drop, ["ALL"]);
  assert.ok(c?.readinessProbe && c.livenessProbe);
  // Without HA the workspace agent recreates a dead JobManager (from the newest savepoint, decision 43).
  assert.equal(pod.spec?.restartPolicy, "Never");
  assert.equal(buildTaskManagerPod(ctx(), owner, run, 0).spec?.restartPolicy, "Always");
  assert.equal(pod.metadata?.annotations?.["meridian.dev/run"], "3");
  const ref = pod.metadata?.ownerReferences?.[0];
  assert.deepEqual([ref?.kind, ref?.name, ref?.controller], ["ConfigMap", "orders-flink-config", true]);
  assert.equal(
    pod.spec?.volumes?.find((v) => v.name === "flink-config")?.configMap?.name,
    "orders-flink-config",
  );
  assert.equal(c?.volumeMounts?.find((m) => m.name === "flink-config")?.mountPath, "/opt/flink/conf");
});

test("without a savepoint there is no --fromSavepoint and no --allowNonRestoredState", () => {
  const pod = buildJobManagerPod(ctx(), owner, { id: 1, specHash: "h" });
  assert.deepEqual(pod.spec?.containers[0]?.args, [
    "standalone-job",
    "--job-classname",
    "org.example.Job",
    "--x",
    "1",
  ]);
});

test("TaskManager pods are numbered and run `taskmanager`", () => {
  const pod = buildTaskManagerPod(ctx(), owner, run, 1);
  assert.equal(pod.metadata?.name, names.taskManagerPod("orders", 1));
  assert.equal(pod.metadata?.name, "orders-taskmanager-1");
  assert.deepEqual(pod.spec?.containers[0]?.args, ["taskmanager"]);
  assert.equal(pod.metadata?.labels?.["app.kubernetes.io/component"], "taskmanager");
});

test("spec hash: TaskManager replicas, state and nonces do not redeploy; image and config do", () => {
  const h = specHash(ctx().spec);
  const same = ctx({
    state: "SUSPENDED",
    savepointNonce: 5,
    restartNonce: 2,
    upgradeMode: "STATELESS",
    generation: 9,
    taskManager: { ...input.taskManager, replicas: 4 },
  });
  assert.equal(specHash(same.spec), h);
  assert.notEqual(specHash(ctx({ image: "flink:2.3.1" }).spec), h);
  assert.notEqual(specHash(ctx({ parallelism: 3 }).spec), h);
  assert.notEqual(specHash(ctx({ flinkConfiguration: { a: "b" } }).spec), h);
  // Key order does not matter.
  const a = ctx({ flinkConfiguration: { a: "1", b: "2" } });
  const b = ctx({ flinkConfiguration: { b: "2", a: "1" } });
  assert.equal(specHash(a.spec), specHash(b.spec));
});

test("savepoint directory: spec, then base dir, then the local default", () => {
  assert.equal(savepointDir(ctx({}, "s3://bucket/sp")), "s3://bucket/sp/orders");
  assert.equal(
    savepointDir(ctx({ flinkConfiguration: { "state.savepoints.dir": "s3://own/sp" } }, "s3://bucket/sp")),
    "s3://own/sp",
  );
  assert.equal(savepointDir(ctx()), "file:///flink-data/savepoints/orders");
});

test("memory quantities become Flink MiB sizes", () => {
  assert.equal(flinkMemory("1Gi"), "1024m");
  assert.equal(flinkMemory("1536Mi"), "1536m");
  assert.equal(flinkMemory("2G"), "1907m");
});

test("image policy: registries match on a path boundary, docker hub short names are normalised", () => {
  assert.equal(imageRepository("flink:2.3"), "docker.io/library/flink");
  assert.equal(imageRepository("ghcr.io/acme/flink:1@sha256:abcd"), "ghcr.io/acme/flink");
  assert.equal(imageRepository("localhost:5000/flink"), "localhost:5000/flink");
  assert.deepEqual(checkImage("flink:2.3", []), { allowed: true });
  assert.deepEqual(checkImage("flink:2.3", ["docker.io"]), { allowed: true });
  assert.deepEqual(checkImage("ghcr.io/acme/flink:1", ["ghcr.io/acme"]), { allowed: true });
  const bad = checkImage("docker.io.evil.example/flink:1", ["docker.io"]);
  assert.equal(bad.allowed, false);
  assert.match(bad.allowed ? "" : bad.reason, /not from an allowed registry/);
  assert.equal(checkImage("ghcr.io/acme2/flink:1", ["ghcr.io/acme"]).allowed, false);
  assert.equal(checkImage("flink:2.3", ["flink"]).allowed, true);
  assert.equal(checkImage("apache/flink:2", ["apache/flink"]).allowed, true);
  assert.equal(checkImage("flink:2.3", ["docker.io/library/flink", "docker.io/apache/flink"]).allowed, true);
  assert.equal(checkImage("evil/flink:2.3", ["docker.io/library/flink"]).allowed, false);
  assert.equal(checkImage("anything:1", ["*"]).allowed, true);
});
