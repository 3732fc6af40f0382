// Services and DNS on the real node: kube-proxy (nftables) turns a ClusterIP into a pod on the
// bridge, CoreDNS answers `<svc>.<ns>.svc` from the pods' search path, and a pod reaches the API
// server through the `kubernetes` Service with its projected ServiceAccount token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Cluster } from "../cluster/index.ts";
import { SERVICE_CIDR } from "../cluster/real-node/layout.ts";
import { apply, kubectlOk, nodeEval, restricted, running, waitForPod } from "./kube.ts";
import { NODE_IMAGE, startRealNodeCluster } from "./real-node.ts";

let cluster: Cluster;
const NS = "real-node-services";

function nodePod(name: string, script: string, labels: Record<string, string> = {}, token = false) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS, labels },
    spec: {
      securityContext: restricted.pod,
      automountServiceAccountToken: token,
      terminationGracePeriodSeconds: 2,
      containers: [
        {
          name: "node",
          image: NODE_IMAGE,
          imagePullPolicy: "Never",
          command: ["/nodejs/bin/node", "-e", script],
          ports: [{ containerPort: 8080 }],
          securityContext: restricted.container,
        },
      ],
    },
  };
}

before(async () => {
  cluster = await startRealNodeCluster();
  await kubectlOk(cluster, ["create", "namespace", NS]);
  await apply(cluster, [
    nodePod(
      "echo",
      'require("http").createServer((q, s) => s.end("echo from " + process.env.HOSTNAME)).listen(8080); process.on("SIGTERM", () => process.exit(0))',
      { app: "echo" },
    ),
    nodePod("client", 'setInterval(() => {}, 1e9); process.on("SIGTERM", () => process.exit(0))', {}, true),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "echo", namespace: NS },
      spec: { selector: { app: "echo" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ]);
  await waitForPod(cluster, NS, "echo", "Running and ready", running);
  await waitForPod(cluster, NS, "client", "Running and ready", running);
});

after(async () => {
  await cluster?.stop();
});

test("a Service name resolves through CoreDNS to its ClusterIP and reaches the pod behind it", async () => {
  const svc = JSON.parse(await kubectlOk(cluster, ["-n", NS, "get", "service", "echo", "-o", "json"])) as {
    spec: { clusterIP: string };
  };
  assert.ok(svc.spec.clusterIP.startsWith(SERVICE_CIDR.split(".").slice(0, 2).join(".")));
  const out = JSON.parse(
    await nodeEval(
      cluster,
      NS,
      "client",
      `(async () => {
        const full = await require("dns").promises.lookup("echo.${NS}.svc.cluster.local");
        const short = await require("dns").promises.lookup("echo.${NS}.svc");
        // kube-proxy programs a new endpoint within about a second of the pod turning ready.
        let body;
        for (let i = 0; body === undefined; i++) {
          try { body = await (await fetch("http://echo.${NS}.svc/")).text(); }
          catch (e) { if (i === 30) throw e; await new Promise((r) => setTimeout(r, 1000)); }
        }
        console.log(JSON.stringify({ full: full.address, short: short.address, body }));
      })()`,
    ),
  ) as { full: string; short: string; body: string };
  assert.equal(out.full, svc.spec.clusterIP);
  assert.equal(out.short, svc.spec.clusterIP);
  assert.equal(out.body, "echo from echo");
});

test("a name outside the cluster gets no answer: no query leaves the machine", async () => {
  const out = await nodeEval(
    cluster,
    NS,
    "client",
    'require("dns").promises.lookup("example.com").then((a) => console.log("resolved " + a.address), (e) => console.log(e.code))',
  );
  assert.notEqual(out.split(" ")[0], "resolved", out);
});

test("a pod reaches the API server through the kubernetes Service with its ServiceAccount token", async () => {
  const out = JSON.parse(
    await nodeEval(
      cluster,
      NS,
      "client",
      `const fs = require("fs"), d = "/var/run/secrets/kubernetes.io/serviceaccount/";
      const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
      const req = require("https").request({
        host: "kubernetes.default.svc", path: "/apis/authentication.k8s.io/v1/selfsubjectreviews", method: "POST",
        ca: fs.readFileSync(d + "ca.crt"),
        headers: { authorization: "Bearer " + fs.readFileSync(d + "token", "utf8"), "content-type": "application/json" },
      }, (res) => { let b = ""; res.on("data", (c) => b += c); res.on("end", () => console.log(JSON.stringify({ code: res.statusCode, user: JSON.parse(b).status?.userInfo?.username }))); });
      req.end(body);`,
    ),
  ) as { code: number; user: string };
  assert.equal(out.code, 201);
  assert.equal(out.user, `system:serviceaccount:${NS}:default`);
});
