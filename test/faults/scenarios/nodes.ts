// Node loss: a node simulator and every process of its pods SIGKILLed (a machine gone with its kubelet
// and containers), then the node replaced 10 s later: its pods force-deleted, a new node registered.
import { agentPods, podName, workspaceAgentPods } from "../../e2e/observe.ts";
import { type Scenario, sleep } from "../scenario.ts";
import { NAMESPACE, WS_NS } from "../workload.ts";

export const nodeScenarios: Scenario[] = [
  {
    name: "agents-node-lost",
    proves:
      "the node of both agent replicas lost and replaced after 10 s: new agent pods start on it, one leads, and the workspace and its job never notice",
    replaces: new RegExp(`^Pod ${NAMESPACE}/meridian-agent-`),
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
      "the node of the workspace agent and of Flink lost and replaced after 10 s: a new workspace agent recreates the Flink pods and the job resumes from its restore point",
    replaces: new RegExp(`^Pod ${WS_NS}/`),
    async run(ctx) {
      for (const p of await workspaceAgentPods(ctx.sys.cluster, WS_NS)) ctx.killed(podName(p));
      await ctx.sys.loseNode("workers");
      await sleep(10_000);
      await ctx.sys.restoreNode("workers");
    },
  },
];
