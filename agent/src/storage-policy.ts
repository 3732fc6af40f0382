// The local policy's rules for a workspace's storage and cloud identity (docs/policy.md, "Storage and
// identity"): where Flink state may live (storage.allowedURIs; file:// only under an entry), how an
// S3-compatible store is reached (storage.s3, the customer's alone: a control plane cannot point the
// state elsewhere), and which IAM roles and Azure identities the Flink ServiceAccount may carry.
// A workspace that breaks a rule is refused as a whole with a PolicyViolation naming its field.
import { WORKSPACE_CREDENTIAL_SECRET } from "@meridian/shared/contract/workspace-agent-env";
import { checkStorageUri, storageEntryProblem } from "@meridian/shared/policy/storage-uris";
import type { WorkspaceSpec } from "@meridian/shared/protocol/index";
import { z } from "zod";
import type { Violation } from "./violation.ts";

const entries = <T extends z.ZodType<string>>(entry: T) => z.array(entry).default([]);

export const storagePolicySchema = z
  .object({
    /** Prefixes a workspace's storage.baseURI must lie under; empty: any s3/s3a/abfss/wasbs location. */
    allowedURIs: entries(
      z
        .string()
        .trim()
        .superRefine((entry, ctx) => {
          const problem = storageEntryProblem(entry);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
    ),
    s3: z
      .object({
        /** An S3-compatible server (MinIO, the test cluster's); unset: AWS S3. */
        endpoint: z
          .string()
          .trim()
          .refine((v) => /^https?:\/\/[^/@\s]+\/?$/.test(v) && URL.canParse(v), {
            message: "must be an http(s) URL of a server, without a path or user information",
          })
          .transform((v) => v.replace(/\/+$/, ""))
          .optional(),
        /** Bucket in the path (`<endpoint>/<bucket>/…`) rather than in the host name. */
        pathStyleAccess: z.boolean().default(false),
      })
      .strict()
      .default({ pathStyleAccess: false }),
  })
  .strict()
  .default({ allowedURIs: [], s3: { pathStyleAccess: false } });

/** An IAM role ARN, or a prefix of one ending in `*` (`arn:aws:iam::123456789012:role/meridian-*`). */
const roleArnEntry = z
  .string()
  .trim()
  .regex(
    /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/\S*$/,
    "must be an IAM role ARN, or a prefix of one ending in *",
  )
  .refine((v) => !v.slice(0, -1).includes("*"), "may hold * only at its end");
const clientIdEntry = z
  .string()
  .trim()
  .regex(/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/, "must be a client id (a GUID)")
  .transform((v) => v.toLowerCase());

export const identityPolicySchema = z
  .object({
    /** Roles the Flink ServiceAccount may be annotated with (IRSA); empty: any. */
    allowedAWSRoleARNs: entries(roleArnEntry),
    /** Client ids the Flink ServiceAccount may be annotated with (Workload Identity); empty: any. */
    allowedAzureClientIds: entries(clientIdEntry),
  })
  .strict()
  .default({ allowedAWSRoleARNs: [], allowedAzureClientIds: [] });

export type StoragePolicy = z.infer<typeof storagePolicySchema>;
export type IdentityPolicy = z.infer<typeof identityPolicySchema>;

function roleAllowed(arn: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  return allowed.some((e) => (e.endsWith("*") ? arn.startsWith(e.slice(0, -1)) : arn === e));
}

/** Every storage and identity rule `spec` breaks. */
export function checkStoragePolicy(
  spec: WorkspaceSpec,
  policy: { storage: StoragePolicy; identity: IdentityPolicy },
): Violation[] {
  const out: Violation[] = [];
  const { storage, identity } = spec;
  if (storage) {
    const check = checkStorageUri(storage.baseURI, policy.storage.allowedURIs);
    if (!check.allowed) out.push({ rule: "storage.allowedURIs", message: check.reason });
    if (storage.credentialsSecret === WORKSPACE_CREDENTIAL_SECRET)
      out.push({
        rule: "storage.credentialsSecret",
        message: `storage.credentialsSecret names ${WORKSPACE_CREDENTIAL_SECRET}, the workspace agent's own credential, which never reaches a Flink pod; name a Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      });
  }
  const { allowedAWSRoleARNs, allowedAzureClientIds } = policy.identity;
  if (identity?.awsRoleArn !== undefined && !roleAllowed(identity.awsRoleArn, allowedAWSRoleARNs))
    out.push({
      rule: "identity.allowedAWSRoleARNs",
      message: `identity.awsRoleArn ${identity.awsRoleArn} is not allowed by the local policy (identity.allowedAWSRoleARNs=${allowedAWSRoleARNs.join(",")})`,
    });
  const clientId = identity?.azureClientId?.toLowerCase();
  if (clientId !== undefined && allowedAzureClientIds.length > 0 && !allowedAzureClientIds.includes(clientId))
    out.push({
      rule: "identity.allowedAzureClientIds",
      message: `identity.azureClientId ${clientId} is not allowed by the local policy (identity.allowedAzureClientIds=${allowedAzureClientIds.join(",")})`,
    });
  return out;
}
