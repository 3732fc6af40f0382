// Credentials: the agent's (from a one-time install token, short-lived, refreshable) and the workspace
// credentials (minted by the control plane for one workspace, short-lived, refreshable).
import { z } from "zod";
import { MAX_NAME_LENGTH, MAX_TOKEN_LENGTH } from "./limits.ts";

/**
 * Answer of `POST /v1/agents/{agentId}/workspaces/{workspaceId}/credentials` (agent token) and of
 * `POST /v1/workspaces/{workspaceId}/credentials/refresh` (the workspace's current token).
 */
/** Sent as `Authorization: Bearer <token>`: visible ASCII only, never a line break into a header. */
const bearer = z
  .string()
  .min(16)
  .max(MAX_TOKEN_LENGTH)
  .regex(/^[\x21-\x7e]+$/, "must be visible ASCII characters only (it is sent in an HTTP header)");

export const workspaceCredential = z.object({
  workspaceId: z.string().max(MAX_NAME_LENGTH),
  token: bearer,
  expiresAt: z.iso.datetime(),
});
export type WorkspaceCredential = z.infer<typeof workspaceCredential>;

/**
 * Answer of `POST /v1/agents/{agentId}/credentials/exchange` (the one-time install token) and of
 * `POST /v1/agents/{agentId}/credentials/refresh` (the agent's current credential).
 */
export const agentCredential = z.object({
  agentId: z.string().max(MAX_NAME_LENGTH),
  token: bearer,
  expiresAt: z.iso.datetime(),
});
export type AgentCredential = z.infer<typeof agentCredential>;

/** Refresh when less than this fraction of the credential's lifetime remains. */
export const REFRESH_AT_REMAINING_FRACTION = 1 / 3;
