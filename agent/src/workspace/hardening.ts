// What hardens a workspace namespace besides its NetworkPolicies (network-policies.ts): the Pod
// Security admission labels on the Namespace (the local policy's podSecurity: restricted unless it
// names a reason for less; warn and audit always at restricted, so a relaxed namespace still reports
// what restricted would refuse) and a LimitRange that gives a container without requests or limits
// small defaults, so such a pod is admitted under the ResourceQuota and cannot take all of it.
import { DEFAULT_POD_SECURITY, type PodSecurityPolicy } from "../hardening-policy.ts";

export const PSA = "pod-security.kubernetes.io";
/** On a namespace that enforces less than restricted: the policy's reason, for whoever looks. */
export const ANNOTATION_POD_SECURITY_REASON = "meridian.dev/pod-security-reason";

export const LIMIT_RANGE_NAME = "meridian-workspace-limits";

/** Defaults for a container that sets no requests or limits (Meridian's own pods set both). */
export const CONTAINER_DEFAULTS = {
  defaultRequest: { cpu: "100m", memory: "128Mi" },
  default: { cpu: "500m", memory: "512Mi" },
} as const;

export { DEFAULT_POD_SECURITY, type PodSecurityPolicy };

/** The Pod Security admission labels of a workspace namespace. */
export function podSecurityLabels(p: PodSecurityPolicy): Record<string, string> {
  return {
    [`${PSA}/enforce`]: p.enforce,
    [`${PSA}/enforce-version`]: p.version,
    [`${PSA}/warn`]: "restricted",
    [`${PSA}/warn-version`]: p.version,
    [`${PSA}/audit`]: "restricted",
    [`${PSA}/audit-version`]: p.version,
  };
}

/** The annotations that go with them: the reason, when the namespace enforces less than restricted. */
export function podSecurityAnnotations(p: PodSecurityPolicy): Record<string, string> {
  return p.enforce !== "restricted" && p.reason ? { [ANNOTATION_POD_SECURITY_REASON]: p.reason } : {};
}

/** The LimitRange's spec: defaults per container, nothing else (the quota bounds the total). */
export function limitRangeSpec(): Record<string, unknown> {
  return {
    limits: [
      {
        type: "Container",
        defaultRequest: { ...CONTAINER_DEFAULTS.defaultRequest },
        default: { ...CONTAINER_DEFAULTS.default },
      },
    ],
  };
}
