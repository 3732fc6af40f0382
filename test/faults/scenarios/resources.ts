// Faults of the resources a deployment needs: the workspace quota used up by someone else while a
// pod has to be replaced, and savepoint storage gone while a savepoint is taken.
import { existsSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "../../e2e/kube.ts";
import { type Scenario, type ScenarioContext, sleep } from "../scenario.ts";
import { VERIFY, WS, WS_NS } from "../workload.ts";

const HOG = "quota-hog";
const TM = `${VERIFY}-taskmanager-0`;

/** Bytes of a quantity the API server prints (e.g. 8Gi, 1792Mi, 123456). */
function bytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`cannot read quantity ${q}`);
  return Number(m[1]) * { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, "": 1 }[m[2] ?? ""]!;
}

/** A customer's pod (not Meridian's) that takes `memory` bytes of the workspace quota. */
function hogPod(memory: number) {
  const resources = { cpu: "10m", memory: String(memory) };
  return {
    metadata: { name: HOG },
    spec: {
      // The workspace namespace enforces the restricted Pod Security Standard.
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "hog",
          image: "busybox",
          command: ["sleep", "3600"],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          resources: { requests: resources, limits: resources },
        },
      ],
    },
  };
}

const status = (ctx: ScenarioContext) => ctx.sys.cp.admin.getDeploymentStatus(WS, VERIFY);

let nonce = 1000;
/** The Ready condition's reason and message while the quota was used up (the quota scenario's own check). */
let whileExhausted: { reason: string; message: string } | undefined;

export const resourceScenarios: Scenario[] = [
  {
    name: "quota-exhausted-during-tm-replacement",
    proves:
      "the workspace quota used up by a customer's pod while a TaskManager's pod (deleted, as by an eviction) has to be replaced: the refusal is retried with back-off and reported (Ready=False QuotaExceeded naming the quota and its numbers), nothing else is touched, and the job recovers once the quota has room",
    replaces: new RegExp(`^Pod ${WS_NS}/${VERIFY}-`),
    async run(ctx) {
      // The workspace agent is frozen while the TaskManager's pod goes, so the customer's pod takes the
      // quota it released before the replacement is asked for. The pod is deleted, as an eviction or
      // a drain would take it: a pod gone as a whole is replaced by the workspace agent, whereas a
      // killed container is restarted in place by the kubelet (decision 43) and keeps its quota.
      const wsa = await ctx.workspaceAgentPod();
      const quotaPath = `/api/v1/namespaces/${WS_NS}/resourcequotas/meridian-workspace-quota`;
      const quota = async () =>
        JSON.parse((await ctx.sys.cluster.request("GET", quotaPath)).body) as {
          status: { hard: Record<string, string>; used: Record<string, string> };
        };
      const usedBefore = bytes((await quota()).status.used["limits.memory"]!);
      ctx.signalPod("workers", WS_NS, wsa, "SIGSTOP");
      try {
        const tmPath = `/api/v1/namespaces/${WS_NS}/pods/${TM}`;
        const del = await ctx.sys.cluster.request("DELETE", tmPath);
        if (del.status >= 300)
          throw new Error(`deleting ${TM}: HTTP ${del.status} ${del.body.slice(0, 300)}`);
        await waitFor(
          "the TaskManager's pod gone and its quota released",
          async () =>
            (await ctx.sys.cluster.request("GET", tmPath)).status === 404 &&
            bytes((await quota()).status.used["limits.memory"]!) < usedBefore,
          { timeoutMs: 60_000 },
        );
        const rq = await quota();
        const free = bytes(rq.status.hard["limits.memory"]!) - bytes(rq.status.used["limits.memory"]!);
        const res = await ctx.sys.cluster.request("POST", `/api/v1/namespaces/${WS_NS}/pods`, hogPod(free));
        if (res.status !== 201)
          throw new Error(`creating the quota hog: HTTP ${res.status} ${res.body.slice(0, 300)}`);
      } finally {
        ctx.signalPod("workers", WS_NS, wsa, "SIGCONT");
      }
      await sleep(25_000);
      const s = await status(ctx);
      const notTrue = s?.conditions.filter((c) => c.status !== "True" && c.type !== "DeletionBlocked");
      const ready = s?.conditions.find((c) => c.type === "Ready");
      whileExhausted = ready && { reason: ready.reason, message: ready.message };
      ctx.note(
        `while exhausted: phase ${s?.phase}, ${notTrue?.map((c) => `${c.type}=${c.reason}`).join(" ")}`,
      );
      await ctx.sys.cluster.request("DELETE", `/api/v1/namespaces/${WS_NS}/pods/${HOG}?gracePeriodSeconds=0`);
    },
    async outcome() {
      // The vendor must see why the TaskManager is missing: the quota's name and numbers.
      const r = whileExhausted;
      if (r?.reason !== "QuotaExceeded" || !r.message.includes("ResourceQuota meridian-workspace-quota"))
        return `while exhausted, Ready said ${r?.reason ?? "nothing"} (${r?.message ?? ""}), not QuotaExceeded naming the quota`;
      return undefined;
    },
  },
  {
    name: "savepoint-storage-unavailable",
    proves:
      "savepoint storage gone during a savepoint: the failure is reported with Flink's reason, the job keeps running without loss, and a savepoint taken once storage is back succeeds",
    async run(ctx) {
      const dir = join(ctx.sys.dataDir, "flink-data", "savepoints", VERIFY);
      if (existsSync(dir)) await rename(dir, `${dir}.away`);
      await writeFile(dir, "not a directory: savepoint storage is unavailable\n");
      try {
        nonce++;
        await ctx.patchDeployment(VERIFY, (s) => ({ ...s, savepointNonce: nonce }));
        const failed = await waitFor(
          "the failed savepoint reported",
          async () => {
            const c = (await status(ctx))?.conditions.find((x) => x.type === "NonceAligned");
            return c?.status === "False" && /Fail/.test(c.reason) ? c : undefined;
          },
          { timeoutMs: 90_000 },
        ).catch((err: Error) => err);
        ctx.note(
          failed instanceof Error
            ? failed.message
            : `reported ${failed.reason}: ${failed.message.slice(0, 120)}`,
        );
      } finally {
        await rm(dir, { force: true });
        if (existsSync(`${dir}.away`)) await rename(`${dir}.away`, dir);
      }
    },
    async outcome(ctx) {
      nonce++;
      await ctx.patchDeployment(VERIFY, (s) => ({ ...s, savepointNonce: nonce }));
      const ok = await waitFor(
        `savepoint nonce ${nonce} taken after storage is back`,
        async () => {
          const s = await status(ctx);
          return s?.observedSavepointNonce === nonce && s.lastSavepoint?.nonce === nonce;
        },
        { timeoutMs: 120_000 },
      ).catch((err: Error) => err);
      return ok instanceof Error ? ok.message : undefined;
    },
  },
];
