// Meridian's agents as containers on the real node: `helm install` of the chart with the images
// built from the Dockerfile, the agents running under the chart's security context (uid 10001,
// read-only root, no capabilities), the workspace agent deployed by the agent into a workspace
// namespace, `kubectl logs`, and graceful termination: deleting a pod finishes well within its
// grace period because the agent exits on the kubelet's SIGTERM (a process that ignored it would be
// killed only when the 30 s run out).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Cluster } from "../cluster/index.ts";
import { GATEWAY_IP } from "../cluster/real-node/layout.ts";
import { type ControlPlane, startControlPlane } from "../control-plane/index.ts";
import { AGENT_SELECTOR, createTokenSecret, helmInstall, NAMESPACE } from "../e2e/chart.ts";
import { WORKSPACE_AGENT_SELECTOR } from "../e2e/observe.ts";
import { workspaceBody, workspaceNamespace } from "../e2e/workload.ts";
import { buildDockerfileImage } from "../images/dockerfile-image.ts";
import { kubectlOk, nodeEval, podList, readyPods } from "./kube.ts";
import { realNodeOf, startRealNodeCluster } from "./real-node.ts";

const AGENT_ID = "real-node";
const WS = "rn";
const WS_NS = workspaceNamespace(WS);
const GRACE_SECONDS = 30;

let cluster: Cluster;
let cp: ControlPlane;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-real-node-agents-"));
  cluster = await startRealNodeCluster();
  await realNodeOf(cluster).importImage(await buildDockerfileImage("workspace-agent"));
  // Pods reach the host only on the bridge's address, so the control plane listens there.
  cp = await startControlPlane({ dbPath: join(dir, "cp.db"), host: GATEWAY_IP, port: 0 });
});

after(async () => {
  await cp?.stop();
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("helm install: both agents run as containers under the chart's security context and log JSON", async () => {
  const { token } = await cp.admin.createAgent(AGENT_ID);
  await createTokenSecret(cluster, token);
  await helmInstall({ kubeconfig: cluster.kubeconfigPath, dir, controlPlaneUrl: cp.url, agentId: AGENT_ID });
  const pods = await readyPods(cluster, NAMESPACE, AGENT_SELECTOR, 2);
  for (const pod of pods) {
    const who = JSON.parse(
      await nodeEval(
        cluster,
        NAMESPACE,
        pod,
        'let ro; try { require("fs").writeFileSync("/app/x", ""); ro = false } catch (e) { ro = e.code === "EROFS" } console.log(JSON.stringify({ uid: process.getuid(), ro, caps: require("fs").readFileSync("/proc/self/status", "utf8").match(/CapEff:\\s*(\\w+)/)[1] }))',
      ),
    ) as { uid: number; ro: boolean; caps: string };
    assert.deepEqual(who, { uid: 10001, ro: true, caps: "0000000000000000" }, pod);
  }
  const logs = await kubectlOk(cluster, ["-n", NAMESPACE, "logs", pods[0]!]);
  const first = JSON.parse(logs.split("\n")[0]!) as { component: string };
  assert.equal(first.component, "meridian-agent");
});

test("a workspace gets a Ready workspace agent container in its namespace; its logs are JSON", async () => {
  await cp.admin.putWorkspace(AGENT_ID, WS, workspaceBody("real node workspace"));
  const [pod] = await readyPods(cluster, WS_NS, WORKSPACE_AGENT_SELECTOR, 1);
  assert.equal(await nodeEval(cluster, WS_NS, pod!, "console.log(process.getuid())"), "10001");
  const logs = await kubectlOk(cluster, ["-n", WS_NS, "logs", pod!]);
  assert.equal(
    (JSON.parse(logs.split("\n")[0]!) as { component: string }).component,
    "meridian-workspace-agent",
  );
});

for (const [what, ns, selector] of [
  ["an agent", NAMESPACE, AGENT_SELECTOR],
  ["the workspace agent", WS_NS, WORKSPACE_AGENT_SELECTOR],
] as const) {
  test(`${what} exits on the kubelet's SIGTERM well within its grace period`, async () => {
    const pod = (await podList(cluster, ns, selector)).items[0]!;
    assert.equal(pod.spec.terminationGracePeriodSeconds, GRACE_SECONDS);
    const started = Date.now();
    await kubectlOk(
      cluster,
      ["-n", ns, "delete", "pod", pod.metadata.name, "--wait=true", "--timeout=60s"],
      90_000,
    );
    const seconds = (Date.now() - started) / 1000;
    assert.ok(
      seconds < GRACE_SECONDS / 2,
      `deleting ${pod.metadata.name} took ${seconds} s of its ${GRACE_SECONDS} s grace`,
    );
  });
}
