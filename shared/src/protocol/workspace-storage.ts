// A workspace's object storage and the cloud identity its Flink pods run as (protocol v1, optional:
// a workspace without them keeps the agent's default savepoint directory and no identity). The
// schema checks the form; the agent checks both against the local policy (storage.allowedURIs,
// identity.allowedAWSRoleARNs, identity.allowedAzureClientIds) before anything is applied.
import { z } from "zod";
import { CLOUD_STORAGE_SCHEMES, fileSystemOf, parseStorageUri } from "../policy/storage-uris.ts";
import { MAX_OBJECT_NAME_LENGTH, MAX_ROLE_ARN_LENGTH, MAX_URI_LENGTH } from "./limits.ts";

/** `arn:<partition>:iam::<12-digit account>:role/<optional path/><name>` (IAM's characters). */
export const AWS_ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** A Microsoft Entra client or tenant id. */
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const guid = (what: string) =>
  z.string().max(36).regex(GUID, `must be ${what}: a GUID such as 00000000-0000-0000-0000-000000000000`);

export const workspaceStorage = z
  .object({
    /**
     * Where the workspace's Flink state goes: checkpoints and savepoints of deployment `d` under
     * `<baseURI>/d/checkpoints` and `<baseURI>/d/savepoints` unless the deployment narrows them.
     */
    baseURI: z
      .string()
      .min(1)
      .max(MAX_URI_LENGTH)
      .superRefine((uri, ctx) => {
        const parsed = parseStorageUri(uri, "");
        if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.reason.trim() });
      }),
    /**
     * Only where a cloud identity cannot be used: a Secret in the workspace namespace whose keys
     * reach the Flink pods as environment variables, never through a ConfigMap: for S3
     * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN), for Azure
     * (wasbs, abfss) AZURE_STORAGE_ACCOUNT_KEY, the storage account's shared key.
     */
    credentialsSecret: z
      .string()
      .max(MAX_OBJECT_NAME_LENGTH)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a Secret name")
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.credentialsSecret === undefined) return;
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s.baseURI)?.[1]?.toLowerCase();
    if (scheme === undefined || !fileSystemOf(scheme))
      ctx.addIssue({
        code: "custom",
        path: ["credentialsSecret"],
        message: `access keys from a Secret work only for object storage (${CLOUD_STORAGE_SCHEMES.join(", ")}); ${scheme ?? "this"}:// storage needs none`,
      });
  });
export type WorkspaceStorage = z.infer<typeof workspaceStorage>;

export const workspaceIdentity = z
  .object({
    /** IRSA: the IAM role the Flink ServiceAccount is annotated with (`eks.amazonaws.com/role-arn`). */
    awsRoleArn: z
      .string()
      .max(MAX_ROLE_ARN_LENGTH)
      .regex(AWS_ROLE_ARN, "must be an IAM role ARN such as arn:aws:iam::123456789012:role/flink")
      .optional(),
    /** Azure Workload Identity: the managed identity's or app's client id (`azure.workload.identity/client-id`). */
    azureClientId: guid("a client id").optional(),
    /** Its tenant, when it is not the cluster's (`azure.workload.identity/tenant-id`). */
    azureTenantId: guid("a tenant id").optional(),
  })
  .superRefine((i, ctx) => {
    if (i.azureTenantId !== undefined && i.azureClientId === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["azureTenantId"],
        message: "needs azureClientId: a tenant alone names no identity",
      });
  });
export type WorkspaceIdentity = z.infer<typeof workspaceIdentity>;
