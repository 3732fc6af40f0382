// URL paths of protocol v1, built in one place so client and server cannot drift apart.
const seg = (s: string) => encodeURIComponent(s);

export const paths = {
  agentStream: (agentId: string) => `/v1/agents/${seg(agentId)}/stream`,
  agentStatus: (agentId: string) => `/v1/agents/${seg(agentId)}/status`,
  agentCredentialExchange: (agentId: string) => `/v1/agents/${seg(agentId)}/credentials/exchange`,
  agentCredentialRefresh: (agentId: string) => `/v1/agents/${seg(agentId)}/credentials/refresh`,
  workspaceCredential: (agentId: string, workspaceId: string) =>
    `/v1/agents/${seg(agentId)}/workspaces/${seg(workspaceId)}/credentials`,
  workspaceStream: (workspaceId: string) => `/v1/workspaces/${seg(workspaceId)}/stream`,
  workspaceStatus: (workspaceId: string) => `/v1/workspaces/${seg(workspaceId)}/status`,
  workspaceCredentialRefresh: (workspaceId: string) =>
    `/v1/workspaces/${seg(workspaceId)}/credentials/refresh`,
} as const;
