// Every scenario of the campaign, in the order they run.
import type { Scenario } from "../scenario.ts";
import { agentScenarios } from "./agents.ts";
import { clusterScenarios } from "./cluster.ts";
import { controlPlaneScenarios } from "./control-plane.ts";
import { flinkScenarios } from "./flink.ts";
import { nodeScenarios } from "./nodes.ts";
import { resourceScenarios } from "./resources.ts";
import { workspaceAgentScenarios } from "./workspace-agent.ts";

export const SCENARIOS: Scenario[] = [
  ...agentScenarios,
  ...controlPlaneScenarios,
  ...flinkScenarios,
  ...workspaceAgentScenarios,
  ...resourceScenarios,
  ...clusterScenarios,
  ...nodeScenarios,
];
