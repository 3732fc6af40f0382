// The agent's status document (POST /v1/agents/{id}/status): identity, leader, Kubernetes version,
// stream position, rejected events, and one entry per workspace. Level-based: each build replaces
// the previous one.
import type {
  AgentStatus,
  RejectedEvents,
  WorkspacePhase,
  WorkspaceStatus,
} from "@meridian/shared/protocol/index";

export interface AgentInfo {
  id: string;
  version: string;
  identity: string;
  leader: string;
  kubernetesVersion: string;
  startedAt: string;
}

export function buildAgentStatus(input: {
  agent: AgentInfo;
  lastEventId: string | undefined;
  rejectedEvents: RejectedEvents;
  /** Each workspace's status, computed by workspace/status.ts (and reused while unchanged). */
  workspaces: Iterable<WorkspaceStatus>;
}): { status: AgentStatus; phases: Partial<Record<WorkspacePhase, number>> } {
  const workspaces = [...input.workspaces].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const phases: Partial<Record<WorkspacePhase, number>> = {};
  for (const w of workspaces) phases[w.phase] = (phases[w.phase] ?? 0) + 1;
  const status: AgentStatus = {
    agent: input.agent,
    workspaces,
    rejectedEvents: input.rejectedEvents,
    ...(input.lastEventId === undefined ? {} : { lastEventId: input.lastEventId }),
  };
  return { status, phases };
}
