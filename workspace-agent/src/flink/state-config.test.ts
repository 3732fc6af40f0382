import assert from "node:assert/strict";
import { test } from "node:test";
import { type DeploymentSpecInput, deploymentSpec } from "@meridian/shared/protocol/index";
import { parse } from "yaml";
import {
  buildConfigMap,
  buildJobManagerPod,
  buildTaskManagerPod,
  type DeploymentContext,
  runsHa,
} from "./objects.ts";
import { clusterConfigMapName, haEnabled, jobConfigMapName, lineageJobId } from "./state-config.ts";
import { refuseStorage } from "./storage.ts";

const input: DeploymentSpecInput = {
  name: "orders",
  generation: 1,
  image: "flink:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "500m", memory: "1Gi" } },
  taskManager: { resources: { cpu: "1", memory: "1Gi" }, taskSlots: 1 },
  state: "RUNNING",
};
const storage = { baseURI: "s3://state/ws", serviceAccount: "meridian-flink" };
const ctx = (over: Partial<DeploymentSpecInput> = {}, withStorage = true): DeploymentContext => ({
  workspaceId: "team-a",
  namespace: "mw-team-a",
  spec: deploymentSpec.parse({ ...input, ...over }),
  savepointBaseDir: undefined,
  storage: withStorage ? storage : undefined,
});
const conf = (c: DeploymentContext) =>
  parse(buildConfigMap(c, "{}").data?.["config.yaml"] ?? "") as Record<string, string>;
const owner = { name: "orders-flink-config", uid: "u" };
const run = { id: 2, specHash: "h", jobId: "0123456789abcdef0123456789abcdef" };

test("checkpointing is on by default, exactly-once, retained on cancellation where it has a directory", () => {
  const c = conf(ctx());
  assert.equal(c["execution.checkpointing.interval"], "30 s");
  assert.equal(c["execution.checkpointing.mode"], "EXACTLY_ONCE");
  assert.equal(c["execution.checkpointing.timeout"], "10 min");
  assert.equal(c["execution.checkpointing.tolerable-failed-checkpoints"], "3");
  assert.equal(c["execution.checkpointing.externalized-checkpoint-retention"], "RETAIN_ON_CANCELLATION");
  assert.equal(c["execution.checkpointing.dir"], "s3://state/ws/orders/checkpoints");
  // Without storage the checkpoints live in the JobManager: on, but nothing to retain.
  const none = conf(ctx({}, false));
  assert.equal(none["execution.checkpointing.interval"], "30 s");
  assert.equal(none["execution.checkpointing.externalized-checkpoint-retention"], undefined);
  // A spec changes any default.
  const own = conf(
    ctx({
      flinkConfiguration: {
        "execution.checkpointing.interval": "3 s",
        "execution.checkpointing.externalized-checkpoint-retention": "DELETE_ON_CANCELLATION",
      },
    }),
  );
  assert.equal(own["execution.checkpointing.interval"], "3 s");
  assert.equal(own["execution.checkpointing.externalized-checkpoint-retention"], "DELETE_ON_CANCELLATION");
});

test("Kubernetes HA per deployment where the workspace has storage: its path, cluster id and namespace", () => {
  const c = conf(ctx());
  assert.equal(c["high-availability.type"], "kubernetes");
  assert.equal(c["high-availability.storageDir"], "s3://state/ws/orders/ha");
  assert.equal(c["kubernetes.cluster-id"], "orders");
  assert.equal(c["high-availability.cluster-id"], "orders");
  assert.equal(c["kubernetes.namespace"], "mw-team-a");
  assert.ok(runsHa(ctx()));
  assert.ok(!runsHa(ctx({}, false)), "no storage, no HA by default");
  assert.ok(
    !runsHa(ctx({ flinkConfiguration: { "high-availability.type": "NONE" } })),
    "a spec turns it off",
  );
  // Without storage a spec may turn it on with a directory of its own.
  const own = ctx(
    {
      flinkConfiguration: {
        "high-availability.type": "kubernetes",
        "high-availability.storageDir": "file:///flink-data/ha",
      },
    },
    false,
  );
  assert.ok(runsHa(own));
  assert.ok(!haEnabled({ "high-availability.type": "kubernetes" }), "no directory, no HA");
  // The HA directory narrows within the deployment's area like the state directories, never leaves it.
  const outside = ctx({ flinkConfiguration: { "high-availability.storageDir": "s3://state/ws/other/ha" } });
  assert.equal(
    refuseStorage(outside.spec, storage)?.field,
    "flinkConfiguration.high-availability.storageDir",
  );
  const inside = ctx({ flinkConfiguration: { "high-availability.storageDir": "s3://state/ws/orders/ha2" } });
  assert.equal(refuseStorage(inside.spec, storage), undefined);
  // The cluster id and namespace are Meridian's: a spec that sets them is refused by the protocol.
  assert.throws(() => ctx({ flinkConfiguration: { "kubernetes.cluster-id": "other" } }), /Meridian owns/);
});

test("HA pods: the job's fixed id, and the Flink ServiceAccount's token in the Flink container only", () => {
  const c = ctx({
    podTemplate: {
      spec: { containers: [{ name: "sidecar", image: "flink:2.3.0", args: ["sleep"] }] },
    },
  });
  const jm = buildJobManagerPod(c, owner, run);
  const args = jm.spec?.containers[0]?.args ?? [];
  assert.deepEqual(args.slice(0, 5), [
    "standalone-job",
    "--job-classname",
    "org.example.Job",
    "--job-id",
    run.jobId,
  ]);
  for (const pod of [jm, buildTaskManagerPod(c, owner, run, 0)]) {
    assert.equal(pod.spec?.restartPolicy, "Always");
    assert.equal(pod.spec?.automountServiceAccountToken, false, "no automount: sidecars get no token");
    assert.equal(pod.spec?.serviceAccountName, "meridian-flink");
    const vol = pod.spec?.volumes?.find((v) => v.name === "kube-api-access");
    const token = vol?.projected?.sources?.find((s) => s.serviceAccountToken)?.serviceAccountToken;
    assert.equal(token?.expirationSeconds, 3600);
    assert.equal(token?.audience, undefined, "the API server's own audience");
    const [flink, sidecar] = pod.spec?.containers ?? [];
    assert.deepEqual(
      flink?.volumeMounts?.find((m) => m.name === "kube-api-access"),
      { name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
    );
    assert.equal(sidecar?.name, "sidecar");
    assert.ok(!sidecar?.volumeMounts?.some((m) => m.name === "kube-api-access"), "the sidecar has no token");
  }
  // Without HA no token at all, and the JobManager is the workspace agent's to recreate.
  const plain = buildJobManagerPod(ctx({}, false), owner, run);
  assert.ok(!JSON.stringify(plain.spec).includes("serviceAccountToken"));
  assert.equal(plain.spec?.restartPolicy, "Never");
  assert.ok(!plain.spec?.containers[0]?.args?.includes("--job-id"), "no fixed job id without HA");
});

test("job ids are fixed per lineage and the HA ConfigMaps are named as Flink names them", () => {
  const a = lineageJobId("mw-team-a", "orders", 1);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.equal(a, lineageJobId("mw-team-a", "orders", 1));
  assert.notEqual(a, lineageJobId("mw-team-a", "orders", 2));
  assert.notEqual(a, lineageJobId("mw-team-b", "orders", 1));
  assert.equal(clusterConfigMapName("orders"), "orders-cluster-config-map");
  assert.equal(jobConfigMapName("orders", a), `orders-${a}-config-map`);
});
