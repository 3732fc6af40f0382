// The node simulator against a real control plane: Deployments become running
// processes, status and logs flow through the real apiserver, env and tokens
// resolve as on a kubelet, restarts back off, deletions kill, names resolve.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { V1Lease, V1Node, V1Pod } from "@kubernetes/client-node";
import { type Cluster, startCluster } from "../index.ts";
import { defaultImageMap, type NodeSimulator, startNodeSimulator } from "./index.ts";
import { KubeApi } from "./kube-api.ts";
import { processAlive } from "./processes.ts";
import { eventually, isReady, TestNamespace } from "./test-helpers.ts";

let cluster: Cluster;
let sim: NodeSimulator;
let api: KubeApi;
let t: TestNamespace;
const ns = "sim-test";
const sh = (script: string) => ({ command: ["sh", "-c", script] });
const finished = (p: V1Pod) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
const lastLine = async (pod: string) => t.kubectl(["logs", pod, "--tail=1"]);

before(async () => {
  cluster = await startCluster();
  sim = await startNodeSimulator({
    kubeconfigPath: cluster.kubeconfigPath,
    cluster,
    nodes: 1,
    imageMap: defaultImageMap(),
    dir: join(cluster.dir, "sim"),
  });
  api = await KubeApi.fromKubeconfig(cluster.kubeconfigPath);
  t = new TestNamespace(cluster, api, ns);
  await t.create();
});

after(async () => {
  await sim?.stop();
  await api?.close();
  await cluster?.stop();
});

describe("node simulator", () => {
  it("registers a Ready node whose kubelet endpoint is the log server", async () => {
    const node = await api.get<V1Node>("/api/v1/nodes/sim-node-0");
    assert.equal(node.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
    assert.deepEqual(node.status?.addresses, [{ type: "InternalIP", address: "127.0.0.1" }]);
    assert.equal(node.status?.daemonEndpoints?.kubeletEndpoint?.Port, sim.kubeletPort);
    assert.equal(node.status?.capacity?.pods, "110");
    const lease = await api.get<V1Lease>(
      "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/sim-node-0",
    );
    assert.equal(lease.spec?.holderIdentity, "sim-node-0");
  });

  it("runs a Deployment's pod as a process that becomes Ready, with logs through kubectl", async () => {
    const cmd = ["--image=sim/shell:1", "--", "sh", "-c", "echo hello-from-pod; sleep 3600"];
    await t.kubectl(["create", "deployment", "hello", ...cmd]);
    const pod = await t.readyPod("app=hello");
    const name = pod.metadata!.name!;
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "ReplicaSet");
    assert.equal(pod.status?.phase, "Running");
    assert.match(pod.status?.podIP ?? "", /^127\.\d+\.\d+\.\d+$/);
    assert.equal(pod.status?.containerStatuses?.[0]?.ready, true);
    const pids = sim.podProcesses(ns, name);
    assert.equal(pids.length, 1);
    assert.ok(processAlive(pids[0]!), `pid ${pids[0]} should be running`);
    const logs = await eventually("the pod's log line", async () => {
      const out = await t.kubectl(["logs", name]);
      return out.includes("hello-from-pod") && out;
    });
    assert.equal(logs, "hello-from-pod\n");
    const stamped = await t.kubectl(["logs", "--timestamps", name]);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT[\d:.]+Z hello-from-pod\n$/);
  });

  it("marks a container with an unmapped image running without a process and annotates the pod", async () => {
    await t.applyPod("plain", { image: "nginx:1.27" }, { restartPolicy: "Always" });
    const annotated = (p: V1Pod) => p.metadata?.annotations?.["meridian.dev/simulated"] === "true";
    const pod = await t.podWhere("plain", "ready and annotated", (p) => isReady(p) && annotated(p));
    assert.ok(pod.status?.containerStatuses?.[0]?.state?.running);
    assert.deepEqual(sim.podProcesses(ns, "plain"), []);
    assert.equal(await t.kubectl(["logs", "plain"]), "");
  });

  it("sends a pod's status again when someone else marked it NotReady, as a kubelet does", async () => {
    await t.applyPod("marked", { image: "nginx:1.27" }, { restartPolicy: "Always" });
    await t.podWhere("marked", "ready", isReady);
    // What the node lifecycle controller does to every pod of a node whose heartbeats it missed.
    const notReady = { type: "Ready", status: "False", reason: "NodeNotReady" };
    const marked = await api.patch<V1Pod>(`/api/v1/namespaces/${ns}/pods/marked/status`, {
      status: { conditions: [notReady] },
    });
    assert.equal(isReady(marked), false, "the API server took the NotReady mark");
    await t.podWhere("marked", "Ready again", isReady);
  });

  it("streams logs with kubectl logs -f while the container runs", async () => {
    await t.applyPod("ticker", sh("i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"));
    await t.readyPod("app=ticker");
    const kubeconfig = `--kubeconfig=${cluster.kubeconfigPath}`;
    const child = spawn(join(cluster.binDir, "kubectl"), [kubeconfig, "logs", "-f", "-n", ns, "ticker"]);
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const ticks = () => out.match(/tick-\d+/g)?.length ?? 0;
    try {
      // Lines written after kubectl connected prove the stream is live, not just the backlog.
      const atStart = await eventually("first lines", async () => ticks());
      await eventually("more lines while following", async () => ticks() >= atStart + 5, 15_000);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("resolves env from a Secret, the downward API and $(VAR), mounts volumes, issues a ServiceAccount kubeconfig", async () => {
    await t.kubectl(["create", "secret", "generic", "creds", "--from-literal=password=hunter2"]);
    const kubectlBin = join(cluster.binDir, "kubectl");
    const script = [
      'echo "secret=$PASSWORD name=$POD_NAME ip=$POD_IP node=$NODE"',
      "echo addr=$(POD_IP):8080",
      "echo file=$(cat /etc/creds/password)",
      `echo whoami=$(${kubectlBin} auth whoami -o jsonpath='{.status.userInfo.username}')`,
    ].join("; ");
    const field = (fieldPath: string) => ({ fieldRef: { fieldPath } });
    await t.applyPod(
      "envy",
      {
        ...sh(script),
        volumeMounts: [{ name: "creds", mountPath: "/etc/creds" }],
        env: [
          { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "creds", key: "password" } } },
          { name: "POD_NAME", valueFrom: field("metadata.name") },
          { name: "POD_IP", valueFrom: field("status.podIP") },
          { name: "NODE", valueFrom: field("spec.nodeName") },
        ],
      },
      { volumes: [{ name: "creds", secret: { secretName: "creds" } }] },
    );
    const pod = await t.podWhere("envy", "finished", (p) => finished(p));
    const ip = pod.status?.podIP;
    assert.equal(
      await t.kubectl(["logs", "envy"]),
      [
        `secret=hunter2 name=envy ip=${ip} node=sim-node-0`,
        `addr=${ip}:8080`,
        "file=hunter2",
        `whoami=system:serviceaccount:${ns}:default`,
        "",
      ].join("\n"),
    );
    assert.equal(pod.status?.phase, "Succeeded");
    assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  });

  it("restarts a crashing container with back-off and serves the previous instance's log", async () => {
    await t.applyPod("crasher", sh("echo crashing; exit 3"), { restartPolicy: "Always" });
    const restarts = (p: V1Pod) => p.status?.containerStatuses?.[0]?.restartCount ?? 0;
    const pod = await t.podWhere("crasher", "restartCount >= 2", (p) => restarts(p) >= 2);
    const cs = pod.status!.containerStatuses![0]!;
    assert.equal(cs.lastState?.terminated?.exitCode, 3);
    assert.equal(pod.status?.phase, "Running");
    assert.equal(await t.kubectl(["logs", "--previous", "crasher"]), "crashing\n");
    const backingOff = await t.podWhere(
      "crasher",
      "CrashLoopBackOff",
      (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CrashLoopBackOff",
    );
    const message = backingOff.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "";
    assert.match(message, /back-off \d+s restarting failed container=main/);
  });

  it("restarts a container whose liveness probe fails", async () => {
    const livenessProbe = {
      exec: { command: ["sh", "-c", "exit 1"] },
      periodSeconds: 1,
      failureThreshold: 2,
    };
    await t.applyPod(
      "unhealthy",
      { ...sh("echo up; exec sleep 3600"), livenessProbe },
      { restartPolicy: "Always" },
    );
    const pod = await t.podWhere(
      "unhealthy",
      "a liveness restart",
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
    );
    assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 143);
    await t.kubectl(["delete", "pod", "unhealthy", "--wait=false"]);
  });

  it("re-syncs a mounted ConfigMap when it changes", async () => {
    await t.kubectl(["create", "configmap", "cfg", "--from-literal=v=one"]);
    await t.applyPod(
      "reader",
      {
        ...sh("while true; do echo v=$(cat /etc/cfg/v); sleep 0.3; done"),
        volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }],
      },
      { volumes: [{ name: "cfg", configMap: { name: "cfg" } }] },
    );
    await eventually("v=one", async () => (await lastLine("reader")) === "v=one\n");
    const updated = await t.kubectl([
      "create",
      "configmap",
      "cfg",
      "--from-literal=v=two",
      "--dry-run=client",
      "-o=json",
    ]);
    await t.kubectl(["replace", "-f", "-"], updated);
    await eventually("v=two", async () => (await lastLine("reader")) === "v=two\n", 15_000);
    await t.kubectl(["delete", "pod", "reader", "--wait=false"]);
  });

  it("kills the process of a deleted pod and removes the pod from the API", async () => {
    const pod = await t.readyPod("app=hello");
    const name = pod.metadata!.name!;
    const [pid] = sim.podProcesses(ns, name);
    assert.ok(pid && processAlive(pid));
    await t.kubectl(["delete", "pod", name, "--wait=true", "--timeout=60s"]);
    assert.equal(processAlive(pid), false, "the container process should be gone");
    await assert.rejects(t.getPod(name), /404/);
    const replacement = await t.readyPod("app=hello");
    assert.notEqual(replacement.metadata?.name, name);
    assert.notEqual(replacement.status?.podIP, pod.status?.podIP);
  });

  it("resolves a Service name to a ready pod's IP in a Node child through the hosts preload", async () => {
    const server =
      "require('http').createServer((q,s)=>s.end('hi from '+process.env.POD_IP)).listen(8080, process.env.POD_IP)";
    await t.applyPod(
      "web",
      {
        command: ["node", "-e", server],
        env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
        readinessProbe: { httpGet: { path: "/", port: 8080 as never }, periodSeconds: 5 },
      },
      { restartPolicy: "Always" },
    );
    await t.kubectl(["expose", "pod", "web", "--port=8080", "--name=web-svc"]);
    const web = await t.readyPod("app=web");
    const listed = () => readFileSync(sim.hostsFile, "utf8").includes(`web-svc.${ns}.svc`);
    await eventually("the hosts file to list web-svc", async () => listed());
    const client = `require('dns').lookup('web-svc.${ns}.svc', async (e, a) => {
      const r = await fetch('http://web-svc:8080/');
      console.log('resolved=' + a + ' body=' + await r.text());
    })`;
    await t.applyPod("dns", { command: ["node", "-e", client] });
    await t.podWhere("dns", "finished", (p) => finished(p));
    const ip = web.status?.podIP;
    assert.equal(await t.kubectl(["logs", "dns"]), `resolved=${ip} body=hi from ${ip}\n`);
  });

  it("keeps the node Ready and leaves no process behind after stop()", async () => {
    const node = await api.get<V1Node>("/api/v1/nodes/sim-node-0");
    assert.equal(node.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
    assert.equal(node.spec?.taints?.length ?? 0, 0, JSON.stringify(node.spec?.taints));
    const pids = sim.allProcesses();
    assert.ok(pids.length >= 3, `expected the running pods' processes, got ${pids}`);
    await sim.stop();
    for (const pid of pids) assert.equal(processAlive(pid), false, `pid ${pid} survived stop()`);
    assert.deepEqual(sim.allProcesses(), []);
  });
});
