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

let cluster: Cluster;
let sim: NodeSimulator;
let api: KubeApi;
const ns = "sim-test";

async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function kubectl(args: string[], input?: string): Promise<string> {
  const res = await cluster.kubectl(args, input === undefined ? {} : { input });
  assert.equal(res.code, 0, `kubectl ${args.join(" ")} failed: ${res.stderr}`);
  return res.stdout;
}

const getPod = (name: string) => api.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/${name}`);
const isReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

async function podsWithLabel(selector: string): Promise<V1Pod[]> {
  const list = await api.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns}/pods`, {
    labelSelector: selector,
  });
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

async function readyPod(selector: string): Promise<V1Pod> {
  return eventually(`a ready pod with ${selector}`, async () =>
    (await podsWithLabel(selector)).find(isReady),
  );
}

const shellPod = (name: string, script: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      restartPolicy: "Never",
      containers: [{ name: "main", image: "sim/shell:1", command: ["sh", "-c", script], ...extra }],
    },
  });

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
  await kubectl(["create", "namespace", ns]);
  await eventually(
    "the default ServiceAccount",
    async () => (await cluster.kubectl(["get", "sa", "default", "-n", ns])).code === 0,
  );
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
    await kubectl([
      "create",
      "deployment",
      "hello",
      "-n",
      ns,
      "--image=sim/shell:1",
      "--",
      "sh",
      "-c",
      "echo hello-from-pod; sleep 3600",
    ]);
    const pod = await readyPod("app=hello");
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "ReplicaSet");
    assert.equal(pod.status?.phase, "Running");
    assert.match(pod.status?.podIP ?? "", /^127\.0\.\d+\.\d+$/);
    assert.equal(pod.status?.containerStatuses?.[0]?.ready, true);
    const pids = sim.podProcesses(ns, pod.metadata!.name!);
    assert.equal(pids.length, 1);
    assert.ok(processAlive(pids[0]!), `pid ${pids[0]} should be running`);
    const logs = await eventually("the pod's log line", async () => {
      const out = await kubectl(["logs", "-n", ns, pod.metadata!.name!]);
      return out.includes("hello-from-pod") && out;
    });
    assert.equal(logs, "hello-from-pod\n");
    const stamped = await kubectl(["logs", "-n", ns, "--timestamps", pod.metadata!.name!]);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT[\d:.]+Z hello-from-pod\n$/);
  });

  it("streams logs with kubectl logs -f while the container runs", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      shellPod("ticker", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"),
    );
    await readyPod("app=ticker");
    const child = spawn(join(cluster.binDir, "kubectl"), [
      `--kubeconfig=${cluster.kubeconfigPath}`,
      "logs",
      "-f",
      "-n",
      ns,
      "ticker",
    ]);
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    try {
      // A line written after kubectl connected proves the stream is live, not just the backlog.
      const seenAtStart = await eventually("first lines", async () => out.match(/tick-(\d+)/g)?.length);
      await eventually(
        "more lines while following",
        async () => (out.match(/tick-(\d+)/g)?.length ?? 0) >= seenAtStart + 5,
        15_000,
      );
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("resolves env from a Secret, the downward API and $(VAR), mounts volumes and issues a ServiceAccount kubeconfig", async () => {
    await kubectl(["create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=hunter2"]);
    const kubectlBin = join(cluster.binDir, "kubectl");
    const script = [
      'echo "secret=$PASSWORD name=$POD_NAME ip=$POD_IP node=$NODE"',
      "echo addr=$(POD_IP):8080",
      "echo file=$(cat /etc/creds/password)",
      `echo whoami=$(${kubectlBin} auth whoami -o jsonpath='{.status.userInfo.username}')`,
    ].join("; ");
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        ...JSON.parse(shellPod("envy", script)),
        spec: {
          restartPolicy: "Never",
          volumes: [{ name: "creds", secret: { secretName: "creds" } }],
          containers: [
            {
              name: "main",
              image: "sim/shell:1",
              command: ["sh", "-c", script],
              volumeMounts: [{ name: "creds", mountPath: "/etc/creds" }],
              env: [
                { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "creds", key: "password" } } },
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              ],
            },
          ],
        },
      }),
    );
    const pod = await eventually("pod envy to succeed", async () => {
      const p = await getPod("envy");
      assert.notEqual(p.status?.phase, "Failed", JSON.stringify(p.status));
      return p.status?.phase === "Succeeded" && p;
    });
    const ip = pod.status?.podIP;
    const out = await kubectl(["logs", "-n", ns, "envy"]);
    assert.equal(
      out,
      [
        `secret=hunter2 name=envy ip=${ip} node=sim-node-0`,
        `addr=${ip}:8080`,
        "file=hunter2",
        `whoami=system:serviceaccount:${ns}:default`,
        "",
      ].join("\n"),
    );
    assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  });

  it("restarts a crashing container with back-off and serves the previous instance's log", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        ...JSON.parse(shellPod("crasher", "echo crashing; exit 3")),
        spec: {
          restartPolicy: "Always",
          containers: [
            { name: "main", image: "sim/shell:1", command: ["sh", "-c", "echo crashing; exit 3"] },
          ],
        },
      }),
    );
    const pod = await eventually("restartCount >= 2", async () => {
      const p = await getPod("crasher");
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 && p;
    });
    const cs = pod.status!.containerStatuses![0]!;
    assert.equal(cs.lastState?.terminated?.exitCode, 3);
    assert.equal(pod.status?.phase, "Running");
    assert.equal(await kubectl(["logs", "-n", ns, "--previous", "crasher"]), "crashing\n");
    const waiting = await eventually("CrashLoopBackOff", async () => {
      const s = (await getPod("crasher")).status?.containerStatuses?.[0]?.state?.waiting;
      return s?.reason === "CrashLoopBackOff" && s;
    });
    assert.match(waiting.message ?? "", /back-off \d+s restarting failed container=main/);
  });

  it("restarts a container whose liveness probe fails", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        ...JSON.parse(shellPod("unhealthy", "")),
        spec: {
          restartPolicy: "Always",
          containers: [
            {
              name: "main",
              image: "sim/shell:1",
              command: ["sh", "-c", "echo up; exec sleep 3600"],
              livenessProbe: {
                exec: { command: ["sh", "-c", "exit 1"] },
                periodSeconds: 1,
                failureThreshold: 2,
              },
            },
          ],
        },
      }),
    );
    const pod = await eventually("a liveness restart", async () => {
      const p = await getPod("unhealthy");
      return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 && p;
    });
    assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 143);
    await kubectl(["delete", "pod", "-n", ns, "unhealthy", "--wait=false"]);
  });

  it("re-syncs a mounted ConfigMap when it changes", async () => {
    await kubectl(["create", "configmap", "cfg", "-n", ns, "--from-literal=v=one"]);
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        ...JSON.parse(shellPod("reader", "")),
        spec: {
          volumes: [{ name: "cfg", configMap: { name: "cfg" } }],
          containers: [
            {
              name: "main",
              image: "sim/shell:1",
              command: ["sh", "-c", "while true; do echo v=$(cat /etc/cfg/v); sleep 0.3; done"],
              volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }],
            },
          ],
        },
      }),
    );
    await eventually(
      "v=one",
      async () => (await kubectl(["logs", "-n", ns, "reader", "--tail=1"])) === "v=one\n",
    );
    await kubectl([
      "create",
      "configmap",
      "cfg",
      "-n",
      ns,
      "--from-literal=v=two",
      "--dry-run=client",
      "-o",
      "json",
    ]).then((json) => kubectl(["replace", "-f", "-"], json));
    await eventually(
      "v=two",
      async () => (await kubectl(["logs", "-n", ns, "reader", "--tail=1"])) === "v=two\n",
      15_000,
    );
    await kubectl(["delete", "pod", "-n", ns, "reader", "--wait=false"]);
  });

  it("kills the process of a deleted pod and removes the pod from the API", async () => {
    const pod = await readyPod("app=hello");
    const name = pod.metadata!.name!;
    const [pid] = sim.podProcesses(ns, name);
    assert.ok(pid && processAlive(pid));
    await kubectl(["delete", "pod", "-n", ns, name, "--wait=true", "--timeout=60s"]);
    assert.equal(processAlive(pid), false, "the container process should be gone");
    await assert.rejects(getPod(name), /404/);
    const replacement = await readyPod("app=hello");
    assert.notEqual(replacement.metadata?.name, name);
    assert.notEqual(replacement.status?.podIP, pod.status?.podIP);
  });

  it("resolves a Service name to a ready pod's IP in a Node child through the hosts preload", async () => {
    const server =
      "require('http').createServer((q,s)=>s.end('hi from '+process.env.POD_IP)).listen(8080, process.env.POD_IP)";
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web", namespace: ns, labels: { app: "web" } },
        spec: {
          containers: [
            {
              name: "web",
              image: "sim/shell:1",
              command: ["node", "-e", server],
              env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
              readinessProbe: { httpGet: { path: "/", port: 8080 }, periodSeconds: 5 },
            },
          ],
        },
      }),
    );
    await kubectl(["expose", "pod", "web", "-n", ns, "--port=8080", "--name=web-svc"]);
    const web = await readyPod("app=web");
    await eventually("the hosts file to list web-svc", async () =>
      readFileSync(sim.hostsFile, "utf8").includes(`web-svc.${ns}.svc`),
    );
    const client = `require('dns').lookup('web-svc.${ns}.svc', async (e, a) => { const r = await fetch('http://web-svc:8080/'); console.log('resolved=' + a + ' body=' + await r.text()); })`;
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        ...JSON.parse(shellPod("dns", "")),
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "main", image: "sim/shell:1", command: ["node", "-e", client] }],
        },
      }),
    );
    await eventually("pod dns to finish", async () => {
      const phase = (await getPod("dns")).status?.phase;
      return phase === "Succeeded" || phase === "Failed";
    });
    assert.equal(
      await kubectl(["logs", "-n", ns, "dns"]),
      `resolved=${web.status?.podIP} body=hi from ${web.status?.podIP}\n`,
    );
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
