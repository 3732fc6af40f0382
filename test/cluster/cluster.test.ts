// The local control plane behaves like a real cluster where Meridian depends on it: readiness,
// namespace finalization, garbage collection, RBAC for ServiceAccount tokens, server-side apply,
// and a stop() that leaves nothing behind.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import type { Cluster } from "./index.ts";
import { getTestCluster, startCluster } from "./index.ts";
import { isProcessAlive } from "./process.ts";

let cluster: Cluster;
const run = randomBytes(3).toString("hex");

before(async () => {
  cluster = await getTestCluster();
});

after(async () => {
  await cluster?.stop();
});

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const res = await cluster.kubectl(args, input === undefined ? {} : { input });
  assert.equal(res.code, 0, `kubectl ${args.join(" ")} failed: ${res.stderr}`);
  return res.stdout;
}

/** A fresh namespace whose `default` ServiceAccount exists (pods can be created in it). */
async function namespace(prefix: string): Promise<string> {
  const ns = `${prefix}-${run}`;
  await kubectlOk(["create", "namespace", ns]);
  await eventually(`ServiceAccount ${ns}/default`, async () =>
    (await cluster.kubectl(["get", "serviceaccount", "default", "-n", ns])).code === 0 ? true : undefined,
  );
  return ns;
}

test("the apiserver reports ready through kubectl", async () => {
  assert.equal(await kubectlOk(["get", "--raw", "/readyz"]), "ok");
});

test("a deleted namespace is finalized and goes away", async () => {
  const ns = await namespace("doomed");
  await kubectlOk(["create", "configmap", "content", "-n", ns, "--from-literal=k=v"]);
  await kubectlOk(["delete", "namespace", ns, "--wait=false"]);
  await eventually(`namespace ${ns} to disappear`, async () => {
    const res = await cluster.kubectl(["get", "namespace", ns]);
    return res.code !== 0 && res.stderr.includes("NotFound") ? true : undefined;
  });
});

test("deleting an owner garbage-collects its dependent pod", async () => {
  const ns = await namespace("gc");
  await kubectlOk(["create", "configmap", "owner", "-n", ns]);
  const uid = await kubectlOk(["get", "configmap", "owner", "-n", ns, "-o", "jsonpath={.metadata.uid}"]);
  assert.match(uid, /^[0-9a-f-]{36}$/);
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "dependent",
      namespace: ns,
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid }],
    },
    spec: { containers: [{ name: "main", image: "busybox" }] },
  };
  await kubectlOk(["create", "-f", "-"], JSON.stringify(pod));
  await kubectlOk(["delete", "configmap", "owner", "-n", ns]);
  await eventually("the dependent pod to be garbage-collected", async () => {
    const res = await cluster.kubectl(["get", "pod", "dependent", "-n", ns]);
    return res.code !== 0 && res.stderr.includes("NotFound") ? true : undefined;
  });
});

test("a ServiceAccount token can do what its Role grants and nothing else", async () => {
  const ns = await namespace("rbac");
  const other = await namespace("rbac-other");
  await kubectlOk(["create", "serviceaccount", "reader", "-n", ns]);
  await kubectlOk(["create", "role", "pod-reader", "-n", ns, "--verb=get,list", "--resource=pods"]);
  await kubectlOk([
    "create",
    "rolebinding",
    "reader",
    "-n",
    ns,
    "--role=pod-reader",
    `--serviceaccount=${ns}:reader`,
  ]);
  const kubeconfig = await cluster.serviceAccountKubeconfig(ns, "reader", { expirationSeconds: 600 });
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(CoreV1Api);
  const pods = await eventually(
    "the RoleBinding to take effect",
    () => api.listNamespacedPod({ namespace: ns }),
    15_000,
  );
  assert.deepEqual(pods.items, []);
  const status = async (p: Promise<unknown>) => {
    try {
      await p;
      return 200;
    } catch (err) {
      if (err instanceof ApiException) return err.code;
      throw err;
    }
  };
  assert.equal(await status(api.listNamespacedSecret({ namespace: ns })), 403);
  assert.equal(await status(api.listNamespacedPod({ namespace: other })), 403);
  // kubectl with the same kubeconfig agrees.
  const denied = await cluster.kubectl(["get", "secrets", "-n", ns], { kubeconfig });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /forbidden/);
});

test("server-side apply tracks field managers and reports conflicts", async () => {
  const ns = await namespace("ssa");
  const manifest = (value: string) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "applied", namespace: ns },
      data: { key: value },
    });
  await kubectlOk(["apply", "--server-side", "--field-manager=first", "-f", "-"], manifest("one"));
  const conflict = await cluster.kubectl(["apply", "--server-side", "--field-manager=second", "-f", "-"], {
    input: manifest("two"),
  });
  assert.notEqual(conflict.code, 0);
  assert.match(conflict.stderr, /conflict/i);
  await kubectlOk(
    ["apply", "--server-side", "--field-manager=second", "--force-conflicts", "-f", "-"],
    manifest("two"),
  );
  const cm = JSON.parse(
    await kubectlOk(["get", "configmap", "applied", "-n", ns, "-o", "json", "--show-managed-fields"]),
  );
  assert.equal(cm.data.key, "two");
  const managers = (cm.metadata.managedFields as { manager: string; operation: string }[]).map(
    (f) => `${f.manager}/${f.operation}`,
  );
  assert.ok(managers.includes("second/Apply"), `managedFields: ${managers.join(", ")}`);
});

test("the scheduler binds a pod to a Ready node and kubectl logs reaches that node's kubelet", async (t) => {
  // A fake kubelet: HTTPS with a certificate from issueServingCert, accepting only clients the
  // cluster CA signed (the apiserver's --kubelet-client-certificate).
  const serving = await cluster.issueServingCert(["127.0.0.1", "localhost"]);
  const clients: string[] = [];
  const kubelet = createServer(
    {
      cert: serving.certPem,
      key: serving.keyPem,
      ca: cluster.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      res.end(req.url?.startsWith("/containerLogs/") ? "hello from the fake kubelet\n" : "");
    },
  );
  await new Promise<void>((r) => kubelet.listen(0, "127.0.0.1", r));
  t.after(() => kubelet.close());
  const port = (kubelet.address() as AddressInfo).port;
  const node = `fake-kubelet-${run}`;
  const label = `meridian.test/fake-kubelet=${run}`;
  t.after(() => cluster.kubectl(["delete", "node", node, "--wait=false"]));
  await kubectlOk(
    ["create", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: node } }),
  );
  await kubectlOk(["label", "node", node, label]);
  const now = new Date().toISOString();
  const resources = { cpu: "4", memory: "8Gi", pods: "110" };
  const status = {
    addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
    daemonEndpoints: { kubeletEndpoint: { Port: port } },
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        message: "fake",
        lastHeartbeatTime: now,
        lastTransitionTime: now,
      },
    ],
    capacity: resources,
    allocatable: resources,
  };
  await kubectlOk([
    "patch",
    "node",
    node,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status }),
  ]);

  const ns = await namespace("sched");
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "placed", namespace: ns },
    spec: {
      nodeSelector: { "meridian.test/fake-kubelet": run },
      containers: [{ name: "main", image: "busybox" }],
    },
  };
  await kubectlOk(["create", "-f", "-"], JSON.stringify(pod));
  await eventually("the scheduler to bind the pod", async () => {
    const bound = await kubectlOk(["get", "pod", "placed", "-n", ns, "-o", "jsonpath={.spec.nodeName}"]);
    return bound === node ? true : undefined;
  });
  assert.equal(await kubectlOk(["logs", "placed", "-n", ns]), "hello from the fake kubelet\n");
  assert.deepEqual(clients, ["kube-apiserver-kubelet-client"]);
});

test("stop() leaves no process and no file behind", async () => {
  const pids = cluster.components.map((c) => c.pid);
  if (!cluster.external) assert.equal(pids.length, 4);
  await cluster.stop();
  for (const pid of pids) assert.equal(isProcessAlive(pid), false, `pid ${pid} still alive`);
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
  assert.equal(existsSync(cluster.dir), false, `${cluster.dir} still exists`);
});

test("a component that exits during start fails start-up with its name, exit code and log", async () => {
  await assert.rejects(
    startCluster({ extraArgs: { "kube-apiserver": ["--no-such-flag=1"] } }),
    (err: Error) => {
      assert.match(err.message, /kube-apiserver exited with code 1/);
      assert.match(err.message, /unknown flag: --no-such-flag/);
      return true;
    },
  );
});
