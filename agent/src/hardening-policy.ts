// The local policy's rules for how workspace namespaces are hardened (docs/policy.md, "Namespace
// hardening"): the Pod Security admission level they enforce (restricted unless the customer names a
// reason for less) and the destinations outside the cluster their Flink pods may reach.
import { isIP } from "node:net";
import { z } from "zod";

export const POD_SECURITY_LEVELS = ["restricted", "baseline", "privileged"] as const;

export const podSecurityPolicySchema = z
  .object({
    /** The Pod Security Standard every workspace namespace enforces. */
    enforce: z.enum(POD_SECURITY_LEVELS).default("restricted"),
    /** The Kubernetes minor version of that standard (`v1.35`), or `latest`. */
    version: z
      .string()
      .trim()
      .regex(/^(latest|v1\.\d{1,3})$/, "must be latest or a Kubernetes minor version such as v1.35")
      .default("latest"),
    /** Why the namespaces enforce less than restricted; required then, kept on each namespace. */
    reason: z.string().trim().max(256, "must be at most 256 characters").optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.enforce !== "restricted" && !p.reason)
      ctx.addIssue({
        code: "custom",
        path: ["reason"],
        message: `is required when enforce is ${p.enforce}: say why workspaces may not run restricted (it is kept on every namespace)`,
      });
  })
  .default({ enforce: "restricted", version: "latest" });

export type PodSecurityPolicy = z.output<typeof podSecurityPolicySchema>;

export const DEFAULT_POD_SECURITY: PodSecurityPolicy = { enforce: "restricted", version: "latest" };

/** An IPv4 or IPv6 CIDR (`10.0.0.0/8`, `2001:db8::/32`). */
export const cidr = z
  .string()
  .trim()
  .refine((v) => {
    const [ip, bits, ...rest] = v.split("/");
    if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
    const family = isIP(ip ?? "");
    return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
  }, "must be a CIDR such as 10.0.0.0/8");

const port = z.int().min(1).max(65535);

/** A destination Flink pods may connect to: a CIDR (minus exceptions), on some TCP ports or all. */
export const egressDestinationSchema = z
  .object({
    cidr,
    except: z.array(cidr).default([]),
    /** TCP ports; empty: every port. */
    ports: z.array(port).default([]),
  })
  .strict();

export type EgressDestination = z.output<typeof egressDestinationSchema>;

/** Where Flink pods may connect besides their own namespace and DNS (object storage, Kafka, databases). */
export const allowedEgressSchema = z.array(egressDestinationSchema).default([]);
