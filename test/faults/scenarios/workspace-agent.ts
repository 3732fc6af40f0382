// The workspace agent SIGKILLed in the middle of a lifecycle operation: right after it recorded the
// operation's first step in the deployment's ConfigMap, before the operation could finish.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../../e2e/kube.ts";
import type { Scenario, ScenarioContext } from "../scenario.ts";
import { verifyDeployment } from "../verify-job.ts";
import { VERIFY, VERIFY_RUN, WS, WS_NS } from "../workload.ts";

const DOOMED = "doomed";

/** Kills the workspace agent as soon as it logs that it recorded a step of operation `op`. */
async function killDuring(ctx: ScenarioContext, op: string, trigger: () => Promise<unknown>): Promise<void> {
  const pod = await ctx.workspaceAgentPod();
  const step = await ctx.waitLogLine("workers", WS_NS, pod, new RegExp(`"op":"${op}"`), 120_000);
  await trigger();
  const line = await step();
  ctx.signalPod("workers", WS_NS, pod, "SIGKILL");
  ctx.note(`killed ${pod} at step ${JSON.parse(line).step}`);
}

const status = (ctx: ScenarioContext, name: string) => ctx.sys.cp.admin.getDeploymentStatus(WS, name);

let savepointNonce = 0;
let upgrades = 0;

export const workspaceAgentScenarios: Scenario[] = [
  {
    name: "workspace-agent-sigkill-mid-savepoint",
    proves:
      "the workspace agent SIGKILLed while a savepoint is in flight: the restarted agent finds the savepoint by its recorded trigger id, reports it once, and the job never stops",
    bounded: true,
    async run(ctx) {
      savepointNonce++;
      await killDuring(ctx, "savepoint", () =>
        ctx.patchDeployment(VERIFY, (s) => ({ ...s, savepointNonce })),
      );
    },
    async outcome(ctx) {
      const s = await waitFor(
        `savepoint nonce ${savepointNonce} observed`,
        async () => {
          const st = await status(ctx, VERIFY);
          return st?.observedSavepointNonce === savepointNonce ? st : undefined;
        },
        { timeoutMs: 120_000 },
      ).catch((err: Error) => err);
      if (s instanceof Error) return s.message;
      return s.lastSavepoint?.nonce === savepointNonce
        ? undefined
        : `lastSavepoint ${JSON.stringify(s.lastSavepoint)}`;
    },
  },
  {
    name: "workspace-agent-sigkill-mid-upgrade",
    proves:
      "the workspace agent SIGKILLed during a SAVEPOINT upgrade (stop-with-savepoint in flight): the restarted agent resumes at the recorded step, the new run starts from that savepoint, and the keyed sums continue exactly",
    replaces: new RegExp(`^Pod ${WS_NS}/${VERIFY}-`),
    async run(ctx) {
      upgrades++;
      await killDuring(ctx, "upgrade", () =>
        ctx.patchDeployment(VERIFY, (s) => ({
          ...s,
          flinkConfiguration: {
            ...s.flinkConfiguration,
            "pipeline.object-reuse": String(upgrades % 2 === 1),
          },
        })),
      );
    },
  },
  {
    name: "workspace-agent-sigkill-mid-delete",
    proves:
      "the workspace agent SIGKILLed while it deletes a deployment (stop-with-savepoint before delete): the delete finishes after the restart, its savepoint is kept, and the other deployment is untouched",
    replaces: new RegExp(`^(Pod|ConfigMap|Service) ${WS_NS}/${DOOMED}-`),
    async prepare(ctx) {
      // A second verification job (the examples' print sink declines stop-with-savepoint).
      const run = { ...VERIFY_RUN, output: `/flink-data/verify/${DOOMED}` };
      await ctx.sys.cp.admin.putDeployment(WS, DOOMED, verifyDeployment(run));
      await waitFor(`${DOOMED} RUNNING`, async () => (await status(ctx, DOOMED))?.job.state === "RUNNING", {
        timeoutMs: 300_000,
      });
    },
    async run(ctx) {
      await killDuring(ctx, "delete", () => ctx.sys.cp.admin.deleteDeployment(WS, DOOMED));
    },
    async outcome(ctx) {
      const gone = await waitFor(
        `every object of ${DOOMED} deleted`,
        async () => {
          const res = await ctx.sys.cluster.request(
            "GET",
            `/api/v1/namespaces/${WS_NS}/pods?labelSelector=meridian.dev/deployment%3D${DOOMED}`,
          );
          const cm = await ctx.sys.cluster.request(
            "GET",
            `/api/v1/namespaces/${WS_NS}/configmaps/${DOOMED}-flink-config`,
          );
          return JSON.parse(res.body).items.length === 0 && cm.status === 404;
        },
        { timeoutMs: 120_000 },
      ).catch((err: Error) => err);
      if (gone instanceof Error) return gone.message;
      const dir = join(ctx.sys.dataDir, "flink-data", "savepoints", DOOMED);
      const kept = existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith("savepoint-")) : [];
      return kept.length > 0 ? undefined : `no savepoint of ${DOOMED} kept in ${dir}`;
    },
  },
];
