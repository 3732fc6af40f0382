// Every scenario of the campaign, in the order they run: each starts from what the one before left, so
// those that leave the most behind (node replacement, a control plane that lost its data) come last.
import type { Scenario } from "../scenario.ts";
import { agentScenarios } from "./agents.ts";
import { clusterScenarios } from "./cluster.ts";
import { controlPlaneScenarios } from "./control-plane.ts";
import { flinkScenarios } from "./flink.ts";
import { nodeScenarios } from "./nodes.ts";
import { resourceScenarios } from "./resources.ts";
import { workspaceAgentScenarios } from "./workspace-agent.ts";

const LAST = "control-plane-lost-its-data";
const lastOne = controlPlaneScenarios.find((s) => s.name === LAST);

export const SCENARIOS: Scenario[] = [
  ...agentScenarios,
  ...controlPlaneScenarios.filter((s) => s !== lastOne),
  ...flinkScenarios,
  ...workspaceAgentScenarios,
  ...resourceScenarios,
  ...clusterScenarios,
  ...nodeScenarios,
  lastOne!,
];
