// The customer's local policy (a YAML file the chart renders into a ConfigMap): enforced before
// anything is applied. A workspace that breaks a rule is not applied at all; the violation names the
// rule and the value so the control plane can show it.

import { compareQuantities, isQuantity } from "@meridian/shared/kube/quantity";
import { checkImage } from "@meridian/shared/policy/images";
import { jarUriEntryProblem } from "@meridian/shared/policy/jar-uris";
import type { WorkspaceSpec } from "@meridian/shared/protocol/index";
import { z } from "zod";
import { allowedEgressSchema, podSecurityPolicySchema } from "./hardening-policy.ts";
import { checkStoragePolicy, identityPolicySchema, storagePolicySchema } from "./storage-policy.ts";
import type { Violation } from "./violation.ts";

const registryList = z.array(z.string().trim().min(1, "must not be empty")).default([]);
/** Remote locations Flink job jars may come from (local:// paths inside the image need no entry). */
const jarUriList = z
  .array(
    z
      .string()
      .trim()
      .superRefine((entry, ctx) => {
        const problem = jarUriEntryProblem(entry);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
  )
  .default([]);
const quantityString = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine(isQuantity, "must be a Kubernetes quantity such as 16, 500m, 64Gi");

export const policySchema = z
  .object({
    /** Prefix of every workspace namespace; `<prefix><id>` must stay a DNS label. */
    namespacePrefix: z
      .string()
      .max(22, "must be at most 22 characters so <prefix><40-character id> fits 63")
      .regex(/^[a-z]([-a-z0-9]*)?$/, "must be lowercase letters, digits and '-', starting with a letter")
      .default("mw-"),
    allowedRegistries: z
      .object({ workspaceAgent: registryList, flink: registryList })
      .strict()
      .default({ workspaceAgent: [], flink: [] }),
    /** Passed to every workspace agent, which refuses a deployment whose job.jarURI lies elsewhere. */
    allowedJarURIs: jarUriList,
    quotaCeilings: z
      .object({ cpu: quantityString.optional(), memory: quantityString.optional() })
      .strict()
      .default({}),
    orphanGracePeriodSeconds: z.number().int().min(0).max(31_536_000).default(86_400),
    /** What a Flink deployment's pod template may add; passed to every workspace agent. */
    podTemplates: z
      .object({ allowInitContainers: z.boolean().default(true), allowSidecars: z.boolean().default(true) })
      .strict()
      .default({ allowInitContainers: true, allowSidecars: true }),
    /** Where workspaces may keep Flink state, and how Flink reaches an S3-compatible store. */
    storage: storagePolicySchema,
    /** The cloud identities workspaces may give their Flink pods. */
    identity: identityPolicySchema,
    /** The Pod Security Standard workspace namespaces enforce (restricted unless a reason says why not). */
    podSecurity: podSecurityPolicySchema,
    /** Destinations outside the cluster Flink pods may reach; nothing else but their namespace and DNS. */
    allowedEgress: allowedEgressSchema,
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;

export const DEFAULT_POLICY: Policy = policySchema.parse({});

export type { Violation };

/**
 * Every rule `spec` breaks, given the image it would run. Empty when the workspace may be applied.
 * Messages read like `quota.cpu 64 exceeds the policy ceiling quotaCeilings.cpu=16`.
 */
export function checkWorkspace(spec: WorkspaceSpec, image: string, policy: Policy): Violation[] {
  const out: Violation[] = [];
  const { cpu, memory } = policy.quotaCeilings;
  if (cpu !== undefined && compareQuantities(spec.quota.cpu, cpu) > 0)
    out.push({
      rule: "quotaCeilings.cpu",
      message: `quota.cpu ${spec.quota.cpu} exceeds the policy ceiling quotaCeilings.cpu=${cpu}`,
    });
  if (memory !== undefined && compareQuantities(spec.quota.memory, memory) > 0)
    out.push({
      rule: "quotaCeilings.memory",
      message: `quota.memory ${spec.quota.memory} exceeds the policy ceiling quotaCeilings.memory=${memory}`,
    });
  const imageCheck = checkImage(image, policy.allowedRegistries.workspaceAgent);
  if (!imageCheck.allowed) {
    const what = spec.workspaceAgent.image ? "workspaceAgent.image" : "the configured workspace agent image";
    out.push({
      rule: "allowedRegistries.workspaceAgent",
      message: `${what} ${image} (${imageCheck.repository}) is not from an allowed registry (allowedRegistries.workspaceAgent=${policy.allowedRegistries.workspaceAgent.join(",")})`,
    });
  }
  out.push(...checkStoragePolicy(spec, policy));
  return out;
}

export { checkImage, imageRepository } from "@meridian/shared/policy/images";
