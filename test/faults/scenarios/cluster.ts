// Faults of the Kubernetes control plane: the API server and etcd restarted, every watch expired,
// the API server throttling.
import { request as httpsRequest } from "node:https";
import { type Scenario, type ScenarioContext, sleep } from "../scenario.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Writes `n` ConfigMaps in a scratch namespace: the revision moves past every watcher's. */
async function churn(ctx: ScenarioContext, n: number): Promise<void> {
  const ns = "faults-churn";
  await ctx.sys.cluster.request("POST", "/api/v1/namespaces", { metadata: { name: ns } });
  const stamp = Date.now();
  for (let i = 0; i < n; i++) {
    const res = await ctx.sys.cluster.request("POST", `/api/v1/namespaces/${ns}/configmaps`, {
      metadata: { name: `churn-${stamp}-${i}` },
      data: { i: String(i) },
    });
    if (res.status !== 201) throw new Error(`churn write ${i}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  }
}

/** Compacts etcd's history up to its current revision (the v3 JSON gateway). */
async function compactEtcd(ctx: ScenarioContext): Promise<string> {
  const url = ctx.sys.components.etcdClientUrl();
  const range = await fetch(`${url}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: b64("/") }),
  });
  const revision = ((await range.json()) as { header: { revision: string } }).header.revision;
  const res = await fetch(`${url}/v3/kv/compaction`, {
    method: "POST",
    body: JSON.stringify({ revision, physical: true }),
  });
  if (!res.ok) throw new Error(`etcd compaction at ${revision}: HTTP ${res.status} ${await res.text()}`);
  return revision;
}

async function restartApiServer(
  ctx: ScenarioContext,
  downMs: number,
  extraArgs: string[] = [],
): Promise<void> {
  await ctx.sys.components.kill("kube-apiserver", "SIGTERM");
  await sleep(downMs);
  await ctx.sys.components.start("kube-apiserver", extraArgs);
}

/** A token of the `default` ServiceAccount in `default` (no permissions: its requests are refused). */
async function serviceAccountToken(ctx: ScenarioContext): Promise<string> {
  const res = await ctx.sys.cluster.request(
    "POST",
    "/api/v1/namespaces/default/serviceaccounts/default/token",
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 600 },
    },
  );
  return (JSON.parse(res.body) as { status: { token: string } }).status.token;
}

/** One GET with a bearer token; resolves with the status code. */
function get(ctx: ScenarioContext, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${ctx.sys.cluster.server}${path}`,
      { ca: ctx.sys.cluster.caPem, headers: { authorization: `Bearer ${token}` }, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** Requests the API server rejected for overload (429), from its own metrics. */
async function rejectedRequests(ctx: ScenarioContext): Promise<number> {
  const res = await ctx.sys.cluster.request("GET", "/metrics");
  let n = 0;
  for (const line of res.body.split("\n")) {
    if (line.startsWith("apiserver_flowcontrol_rejected_requests_total{"))
      n += Number(line.split(" ").at(-1));
  }
  return n;
}

export const clusterScenarios: Scenario[] = [
  {
    name: "kube-apiserver-restart",
    proves:
      "the API server stopped for 10 s and restarted: every watch breaks and resumes, nothing is deleted or recreated, the job never notices, and status upward is right again",
    async run(ctx) {
      await restartApiServer(ctx, 10_000);
    },
  },
  {
    name: "etcd-sigkill-restart",
    proves:
      "etcd SIGKILLed and back after 10 s: the API server fails requests meanwhile, the agents back off and resume without deleting or recreating anything",
    async run(ctx) {
      await ctx.sys.components.kill("etcd", "SIGKILL");
      await sleep(10_000);
      await ctx.sys.components.start("etcd");
    },
  },
  {
    name: "watch-expiry-410-storm",
    proves:
      "every watch expired at once (500 writes, etcd history compacted, API server restarted, so every resumed watch gets 410 Gone): both agents re-list and converge with no deletion and no duplicate work",
    async run(ctx) {
      await churn(ctx, 500);
      const revision = await compactEtcd(ctx);
      await restartApiServer(ctx, 1000);
      ctx.note(`etcd compacted at revision ${revision}`);
    },
  },
  {
    name: "kube-apiserver-throttled-429",
    proves:
      "the API server restarted with 2 request seats for 40 s while 30 clients keep it busy, so it answers 429: the agents back off and retry, nothing is lost, and they converge once it has room again",
    async run(ctx) {
      await restartApiServer(ctx, 1000, ["--max-requests-inflight=1", "--max-mutating-requests-inflight=1"]);
      const before = await rejectedRequests(ctx);
      // Load from a ServiceAccount (not exempt from priority and fairness like the admin): 403s still take a seat.
      const until = Date.now() + 40_000;
      const token = await serviceAccountToken(ctx);
      const load = Array.from({ length: 30 }, async () => {
        while (Date.now() < until) await get(ctx, "/api/v1/pods", token).catch(() => sleep(100));
      });
      await ctx.patchDeployment("verify", (s) => s);
      await Promise.all(load);
      ctx.note(`${(await rejectedRequests(ctx)) - before} requests rejected with 429`);
      await restartApiServer(ctx, 1000);
    },
  },
];
