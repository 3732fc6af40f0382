// Node loss: a node simulator and every process of its pods SIGKILLed, the node back 10 s later (a
// kubelet and its containers gone with a machine, the machine rebooted).
import { agentPods, podName, workspaceAgentPods } from "../../e2e/observe.ts";
import { type Scenario, sleep } from "../scenario.ts";
import { VERIFY, WS_NS } from "../workload.ts";

export const nodeScenarios: Scenario[] = [
  {
    name: "agents-node-lost",
    proves:
      "the node of both agent replicas lost and back after 10 s: the agent pods start again on it, one leads, and the workspace and its job never notice",
    async run(ctx) {
      for (const p of await agentPods(ctx.sys.cluster)) ctx.killed(podName(p));
      await ctx.sys.loseNode("agents");
      await sleep(10_000);
      await ctx.sys.restoreNode("agents");
    },
  },
  {
    name: "workers-node-lost",
    proves:
      "the node of the workspace agent and of Flink lost and back after 10 s: the workspace agent restarts, the Flink pods come back or are replaced, and the job resumes from its restore point",
    replaces: new RegExp(`^Pod ${WS_NS}/${VERIFY}-`),
    async run(ctx) {
      for (const p of await workspaceAgentPods(ctx.sys.cluster, WS_NS)) ctx.killed(podName(p));
      await ctx.sys.loseNode("workers");
      await sleep(10_000);
      await ctx.sys.restoreNode("workers");
    },
  },
];
