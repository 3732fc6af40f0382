// How a workspace agent tells the agent that the control plane refused its credential (docs/decisions.md
// 42). The agent refreshes a workspace credential on a timer, so on its own it would learn of a
// credential the control plane revoked, or never issued (a control plane that lost its data), only
// when the credential is due anyway. The workspace agent may not write the credential Secret; after a
// 401 that a re-read of the Secret does not cure, it applies this ConfigMap in its namespace (a
// ConfigMap labelled as the workspace agent's, which its Role and the confinement policy allow),
// naming the refused credential by its `expiresAt`. The agent watches ConfigMaps of this one name and
// mints a new credential when the one its Secret holds is the one named; once replaced, the request
// names a credential that is gone and is ignored. The ConfigMap is kept and overwritten, never deleted.
import {
  COMPONENT_WORKSPACE_AGENT,
  LABEL_COMPONENT,
  LABEL_WORKSPACE,
  MANAGED_BY_WORKSPACE_AGENT,
  meridianLabels,
} from "../kube/labels.ts";
import { isOwnedBy } from "../kube/ownership.ts";
import type { KubeObject } from "../kube/resources.ts";

export const CREDENTIAL_REQUEST_CONFIG_MAP = "meridian-credential-request";

export interface CredentialRequest {
  /** The `expiresAt` of the credential the control plane refused (the Secret's key of that name). */
  refusedExpiresAt: string;
  /** When the workspace agent was refused (RFC 3339). */
  refusedAt: string;
}

export function buildCredentialRequest(
  namespace: string,
  workspaceId: string,
  r: CredentialRequest,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: CREDENTIAL_REQUEST_CONFIG_MAP,
      namespace,
      labels: meridianLabels(MANAGED_BY_WORKSPACE_AGENT, {
        [LABEL_WORKSPACE]: workspaceId,
        [LABEL_COMPONENT]: COMPONENT_WORKSPACE_AGENT,
      }),
    },
    data: { refusedExpiresAt: r.refusedExpiresAt, refusedAt: r.refusedAt },
  };
}

/** The request a ConfigMap holds, if it is the workspace agent's for `workspaceId` and readable. */
export function readCredentialRequest(
  cm: KubeObject | undefined,
  workspaceId: string,
): CredentialRequest | undefined {
  if (!cm || !isOwnedBy(cm, MANAGED_BY_WORKSPACE_AGENT, workspaceId)) return undefined;
  const data = (cm.data ?? {}) as Record<string, unknown>;
  const { refusedExpiresAt, refusedAt } = data;
  if (typeof refusedExpiresAt !== "string" || typeof refusedAt !== "string") return undefined;
  if (!Number.isFinite(Date.parse(refusedExpiresAt)) || !Number.isFinite(Date.parse(refusedAt)))
    return undefined;
  return { refusedExpiresAt, refusedAt };
}
