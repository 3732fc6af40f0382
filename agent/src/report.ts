// The agent's status document (POST /v1/agents/{id}/status): identity, leader, Kubernetes version,
// stream position, rejected events, and one entry per workspace. Level-based: each build replaces
// the previous one.
import type { AgentStatus, RejectedEvents, WorkspacePhase } from "@meridian/shared/protocol/index";
import { type ConditionBook, type WorkspaceView, workspaceStatus } from "./workspace/status.ts";

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
  views: WorkspaceView[];
  book: ConditionBook;
  now: string;
}): { status: AgentStatus; phases: Partial<Record<WorkspacePhase, number>> } {
  const workspaces = input.views
    .map((v) => workspaceStatus(v, input.book, input.now))
    .sort((a, b) => a.id.localeCompare(b.id));
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
