// The real node (test/cluster/real-node): it registers Ready with node credentials, runs a pod
// (pause sandbox) with a Node 24 container from the agent image under a restricted security
// context, serves `kubectl logs` and `exec`, refuses a second real node, and its teardown leaves
// the host exactly as it was (processes, mounts, cgroups, nftables, links, routes, sysctls, paths).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Cluster } from "../cluster/index.ts";
import { diffHost, type HostSnapshot, snapshotHost } from "../cluster/real-node/host.ts";
import { NODE_NAME } from "../cluster/real-node/layout.ts";
import { checkRealNodeHost } from "../cluster/real-node/prepare.ts";
import { apply, kubectlOk, nodeEval, restricted, running, waitForPod } from "./kube.ts";
import { NODE_IMAGE, startRealNodeCluster } from "./real-node.ts";

let cluster: Cluster;
let before_: HostSnapshot;
let programs: string[];
const NS = "real-node-basics";

before(async () => {
  programs = (await checkRealNodeHost()).programs;
  before_ = await snapshotHost(programs);
  cluster = await startRealNodeCluster();
  await kubectlOk(cluster, ["create", "namespace", NS]);
});

after(async () => {
  await cluster?.stop();
});

test("the node registers Ready with its node identity and containerd 2", async () => {
  const node = JSON.parse(await kubectlOk(cluster, ["get", "node", NODE_NAME, "-o", "json"])) as {
    status: {
      nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string };
      conditions: { type: string; status: string }[];
    };
  };
  assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/2\./);
  assert.match(node.status.nodeInfo.kubeletVersion, /^v1\.35\./);
  assert.ok(node.status.conditions.some((c) => c.type === "Ready" && c.status === "True"));
});

test("a Node 24 container from the agent image runs non-root with a read-only root; logs and exec work", async () => {
  await apply(cluster, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "node24", namespace: NS },
    spec: {
      securityContext: restricted.pod,
      automountServiceAccountToken: false,
      containers: [
        {
          name: "node",
          image: NODE_IMAGE,
          imagePullPolicy: "Never",
          command: ["/nodejs/bin/node", "-e"],
          args: [
            'console.log(JSON.stringify({v: process.version, uid: process.getuid(), env: process.env.MALLOC_ARENA_MAX})); setInterval(() => {}, 1e9); process.on("SIGTERM", () => process.exit(0))',
          ],
          securityContext: restricted.container,
          resources: { limits: { memory: "128Mi", cpu: "200m" } },
        },
      ],
    },
  });
  await waitForPod(cluster, NS, "node24", "Running and ready", running);
  const logs = await kubectlOk(cluster, ["-n", NS, "logs", "node24"]);
  const line = JSON.parse(logs.trim().split("\n")[0]!) as { v: string; uid: number; env: string };
  assert.match(line.v, /^v24\./);
  assert.equal(line.uid, 10001, "runs as the Dockerfile's USER");
  assert.equal(line.env, "1", "carries the Dockerfile's ENV");
  const write = await nodeEval(
    cluster,
    NS,
    "node24",
    'try { require("fs").writeFileSync("/app/x", "x"); console.log("wrote") } catch (e) { console.log(e.code) }',
  );
  assert.equal(write, "EROFS", "the root file system is read-only");
  const limit = await nodeEval(
    cluster,
    NS,
    "node24",
    'console.log(require("fs").readFileSync("/sys/fs/cgroup/memory/memory.limit_in_bytes", "utf8"))',
  );
  assert.equal(Number(limit), 128 * 1024 * 1024, "the container sees its cgroup memory limit");
});

test("a process that is not root is refused with the reason, before anything is touched", async () => {
  const before = await snapshotHost(programs);
  await assert.rejects(checkRealNodeHost(1000), /a real node needs root/);
  assert.deepEqual(diffHost(before, await snapshotHost(programs)), []);
});

test("a second real node on the same machine is refused, naming the one that runs", async () => {
  await assert.rejects(checkRealNodeHost(), /another real node runs on this machine \(owner pid \d+/);
});

test("teardown leaves the host as it was", async () => {
  await cluster.stop();
  const diff = diffHost(before_, await snapshotHost(programs));
  assert.deepEqual(diff, []);
});
