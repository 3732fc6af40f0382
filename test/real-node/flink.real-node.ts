// A real Flink job in containers on the real node, deployed by Meridian: the chart's agent and the
// workspace agent it deploys run the example job from the Flink image (official layout, Java 17 from
// Debian through jlink) as a JobManager and a TaskManager pod under Meridian's pod security settings
// (uid 9999, read-only root, no capabilities), until the control plane sees the job RUNNING. Then a
// JobManager whose Flink memory exceeds its container limit is OOMKilled by the kernel.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Cluster } from "../cluster/index.ts";
import { GATEWAY_IP } from "../cluster/real-node/layout.ts";
import { type ControlPlane, startControlPlane } from "../control-plane/index.ts";
import { createTokenSecret, helmInstall } from "../e2e/chart.ts";
import { exampleDeployment, workspaceBody, workspaceNamespace } from "../e2e/workload.ts";
import { buildDockerfileImage } from "../images/dockerfile-image.ts";
import { buildFlinkImage, FLINK_UID } from "../images/flink-image.ts";
import { kubectlOk, podList } from "./kube.ts";
import { realNodeOf, startRealNodeCluster } from "./real-node.ts";

const AGENT_ID = "real-node-flink";
const WS = "rnflink";
const WS_NS = workspaceNamespace(WS);

let cluster: Cluster;
let cp: ControlPlane;
let dir: string;

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  let logs = "";
  for (;;) {
    for (const pod of ["example-jobmanager", "example-taskmanager-0", "oom-jobmanager"]) {
      const l = await cluster.kubectl(["-n", WS_NS, "logs", pod, "--tail=30"]);
      if (l.code === 0 && l.stdout.trim()) logs = `--- ${pod}:\n${l.stdout}`;
    }
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      const pods = await cluster.kubectl(["get", "pods", "-A", "-o", "wide"]);
      const agent = await cluster.kubectl([
        "-n",
        "meridian-system",
        "logs",
        "deploy/meridian-agent",
        "--tail=15",
      ]);
      logs += `\n--- agent:\n${agent.stdout}${agent.stderr}${pods.stderr}`;
      const events = await cluster.kubectl(["-n", WS_NS, "get", "events", "--sort-by=.lastTimestamp"]);
      throw new Error(
        `timed out waiting for ${what} ${last}\n${logs}\n${pods.stdout}\n${events.stdout.split("\n").slice(-25).join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-real-node-flink-"));
  cluster = await startRealNodeCluster();
  const node = realNodeOf(cluster);
  await node.importImage(await buildDockerfileImage("workspace-agent"));
  await node.importImage(await buildFlinkImage());
  cp = await startControlPlane({ dbPath: join(dir, "cp.db"), host: GATEWAY_IP, port: 0 });
  const { token } = await cp.admin.createAgent(AGENT_ID);
  await createTokenSecret(cluster, token);
  await helmInstall({
    kubeconfig: cluster.kubeconfigPath,
    dir,
    controlPlaneUrl: cp.url,
    agentId: AGENT_ID,
    replicas: 1,
  });
  await cp.admin.putWorkspace(AGENT_ID, WS, workspaceBody("real node flink"));
});

after(async () => {
  await cp?.stop();
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("Meridian runs the example job in Flink containers until the control plane sees it RUNNING", async () => {
  await cp.admin.putDeployment(WS, "example", exampleDeployment());
  const status = await eventually(
    "job RUNNING",
    async () => {
      const s = await cp.admin.getDeploymentStatus(WS, "example");
      return s?.job.state === "RUNNING" ? s : undefined;
    },
    420_000,
  );
  assert.equal(status.taskManagers.ready, 1);
  const jm = (
    await podList(cluster, WS_NS, "meridian.dev/deployment=example,app.kubernetes.io/component=jobmanager")
  ).items[0]!;
  const who = await kubectlOk(cluster, [
    "-n",
    WS_NS,
    "exec",
    jm.metadata.name,
    "--",
    "/bin/bash",
    "-c",
    'echo "$UID"; : > /opt/flink/x 2>/dev/null && echo writable || echo read-only',
  ]);
  assert.deepEqual(who.trim().split("\n"), [String(FLINK_UID), "read-only"]);
});

test("a JobManager OOMKilled at its container limit is reported upward as OOMKilled and recovers once fixed", async () => {
  const spec = exampleDeployment();
  // Small CPU requests: the node's two cores also hold the first deployment and the agents.
  spec.jobManager.resources = { cpu: "200m", memory: "300Mi" };
  spec.taskManager.resources = { cpu: "200m", memory: "1Gi" };
  spec.flinkConfiguration = { "jobmanager.memory.process.size": "2g" };
  await cp.admin.putDeployment(WS, "oom", spec);
  // The kernel kills the JVM at the cgroup limit; the kubelet records OOMKilled; the workspace agent,
  // which replaces the failed pod at once, names the reason in its PodDeleted event ...
  const message = await eventually(
    "the workspace agent's event for the OOMKilled JobManager",
    async () => {
      const events = JSON.parse(await kubectlOk(cluster, ["-n", WS_NS, "get", "events", "-o", "json"])) as {
        items: { reason: string; message: string }[];
      };
      return events.items.find((e) => e.reason === "PodDeleted" && e.message.startsWith("oom-jobmanager:"))
        ?.message;
    },
    300_000,
  );
  assert.match(message, /^oom-jobmanager: Failed: container exited 137 \(OOMKilled\); recreating/);
  // ... and reports it to the control plane as the Healthy condition's reason, not a generic failure.
  const healthy = await eventually(
    "Healthy=False with reason OOMKilled in the status the control plane holds",
    async () =>
      (await cp.admin.getDeploymentStatus(WS, "oom"))?.conditions.find(
        (c) => c.type === "Healthy" && c.status === "False" && c.reason === "OOMKilled",
      ),
    120_000,
  );
  assert.match(healthy.message, /oom-jobmanager was OOMKilled at its container memory limit 300Mi/);
  // Only the spec can cure it: with the Flink memory within the limit, the STATELESS deployment
  // starts its job afresh.
  spec.flinkConfiguration = {};
  spec.jobManager.resources = { cpu: "200m", memory: "768Mi" };
  await cp.admin.putDeployment(WS, "oom", spec);
  await eventually(
    "the fixed deployment's job RUNNING",
    async () => ((await cp.admin.getDeploymentStatus(WS, "oom"))?.job.state === "RUNNING" ? true : undefined),
    420_000,
  );
});
