// The workspace: what the control plane wants the agent to create, and what the agent reports back.
import { compareQuantities, isQuantity } from "@meridian/shared/kube/quantity";
import { z } from "zod";
import {
  condition,
  dnsLabel,
  epoch,
  generation,
  imageReference,
  quantity,
  rejectedEvents,
  resources,
} from "./common.ts";
import {
  formatBytes,
  MAX_DISPLAY_NAME_LENGTH,
  MAX_URI_LENGTH,
  MAX_WORKSPACE_POD_TEMPLATE_BYTES,
} from "./limits.ts";
import { podTemplate } from "./pod-template.ts";
import { workspaceIdentity, workspaceStorage } from "./workspace-storage.ts";

export const workspaceSpec = z.object({
  /** Stable id; the namespace is `<prefix><id>`. At most 40 characters so every derived name fits 63. */
  id: dnsLabel(40),
  generation,
  epoch: epoch.optional(),
  displayName: z.string().max(MAX_DISPLAY_NAME_LENGTH).optional(),
  /** Becomes the namespace's ResourceQuota; checked against the local policy's ceilings. */
  quota: z.object({
    cpu: quantity,
    memory: quantity,
    pods: z.number().int().min(1).max(1000).default(50),
  }),
  workspaceAgent: z
    .object({
      /** Overrides the agent's configured workspace-agent image; must pass the local policy. */
      image: imageReference.optional(),
      /** Requests at most the limits, as the API server requires of a container. */
      resources: z
        .object({ requests: resources, limits: resources })
        .superRefine(({ requests, limits }, ctx) => {
          // zod runs this also when a quantity failed its own check: compare only what parses.
          for (const r of ["cpu", "memory"] as const)
            if (
              isQuantity(requests[r]) &&
              isQuantity(limits[r]) &&
              compareQuantities(requests[r], limits[r]) > 0
            )
              ctx.addIssue({
                code: "custom",
                message: `requests.${r} ${requests[r]} is more than limits.${r} ${limits[r]}; a request must not exceed its limit`,
              });
        })
        .optional(),
      logLevel: z.enum(["debug", "info", "warn", "error"]).optional(),
    })
    .default({}),
  /** The object storage of the workspace's Flink state (workspace-storage.ts); optional. */
  storage: workspaceStorage.optional(),
  /** The cloud identity of the workspace's Flink pods (workspace-storage.ts); optional. */
  identity: workspaceIdentity.optional(),
  /**
   * The default pod template of every Flink deployment of the workspace (pod-template.ts): merged
   * under each deployment's own `podTemplate` (the deployment's wins), under the same rules and
   * checks. docs/flink-deployments.md ("Pod templates").
   */
  flinkPodTemplate: podTemplate
    .superRefine((t, ctx) => {
      const bytes = new TextEncoder().encode(JSON.stringify(t)).length;
      if (bytes > MAX_WORKSPACE_POD_TEMPLATE_BYTES)
        ctx.addIssue({
          code: "custom",
          message: `takes ${bytes} bytes as JSON, more than the limit of ${formatBytes(MAX_WORKSPACE_POD_TEMPLATE_BYTES)}; keep the workspace's defaults small and the rest in each deployment's podTemplate`,
        });
    })
    .optional(),
});
export type WorkspaceSpec = z.infer<typeof workspaceSpec>;
export type WorkspaceSpecInput = z.input<typeof workspaceSpec>;

export const workspacePhase = z.enum([
  "Pending",
  "Ready",
  "Degraded",
  "Refused",
  "Orphaned",
  "Deleting",
  "Deleted",
]);
export type WorkspacePhase = z.infer<typeof workspacePhase>;

export const workspaceStatus = z.object({
  id: z.string(),
  observedGeneration: z.number().int().min(0),
  phase: workspacePhase,
  namespace: z.string().optional(),
  conditions: z.array(condition),
  /**
   * While the workspace is deleted (explicitly or as an expired orphan) and once it is: each Flink
   * deployment's newest restorable savepoint (its final one), so that a later workspace with the
   * same id can restore from it (`job.initialSavepointPath`). Absent otherwise.
   */
  finalSavepoints: z
    .array(z.object({ deployment: z.string().max(63), location: z.string().max(MAX_URI_LENGTH) }))
    .max(1000)
    .optional(),
});
export type WorkspaceStatus = z.infer<typeof workspaceStatus>;

/** Body of `POST /v1/agents/{agentId}/status`. Level-based: the latest replaces the previous. */
export const agentStatus = z.object({
  agent: z.object({
    id: z.string(),
    version: z.string(),
    identity: z.string(),
    leader: z.string(),
    kubernetesVersion: z.string(),
    startedAt: z.iso.datetime(),
  }),
  lastEventId: z.string().optional(),
  workspaces: z.array(workspaceStatus),
  rejectedEvents,
  /**
   * The agent's own conditions; for now only `SnapshotAccepted` False, in a status sent before the
   * first accepted snapshot because the stream refused what came (docs/protocol.md "Status").
   * Optional: older agents never send it, older control planes drop it.
   */
  conditions: z.array(condition).optional(),
});
export type AgentStatus = z.infer<typeof agentStatus>;
