// Workspace credentials: minted by the control plane for one workspace, short-lived, refreshable.
import { z } from "zod";
import { MAX_NAME_LENGTH, MAX_TOKEN_LENGTH } from "./limits.ts";

/**
 * Answer of `POST /v1/agents/{agentId}/workspaces/{workspaceId}/credentials` (agent token) and of
 * `POST /v1/workspaces/{workspaceId}/credentials/refresh` (the workspace's current token).
 */
export const workspaceCredential = z.object({
  workspaceId: z.string().max(MAX_NAME_LENGTH),
  /** Sent as `Authorization: Bearer <token>`: visible ASCII only, never a line break into a header. */
  token: z
    .string()
    .min(16)
    .max(MAX_TOKEN_LENGTH)
    .regex(/^[\x21-\x7e]+$/, "must be visible ASCII characters only (it is sent in an HTTP header)"),
  expiresAt: z.iso.datetime(),
});
export type WorkspaceCredential = z.infer<typeof workspaceCredential>;

/** Refresh when less than this fraction of the credential's lifetime remains. */
export const REFRESH_AT_REMAINING_FRACTION = 1 / 3;
