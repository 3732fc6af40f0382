// The security contexts of the workspace agent pods: today's secure defaults, and the one setting that
// overrides them (the chart's workspaceAgent.podSecurityContext / .securityContext, passed to the agent
// as JSON). Only Linux fields Kubernetes defines are accepted, so a misspelled field is refused instead
// of silently dropped; contradictions the kubelet would only report at container start are refused here.
import { jsonText } from "@meridian/shared/process/setting-schemas";
import { z } from "zod";

const id = z.int().min(0).max(2_147_483_647);
const profile = z.strictObject({
  type: z.enum(["RuntimeDefault", "Localhost", "Unconfined"]),
  localhostProfile: z.string().min(1).optional(),
});
const seLinuxOptions = z.strictObject({
  user: z.string().optional(),
  role: z.string().optional(),
  type: z.string().optional(),
  level: z.string().optional(),
});
/** Fields both levels share; a container's value wins over its pod's. */
const common = {
  runAsUser: id.optional(),
  runAsGroup: id.optional(),
  runAsNonRoot: z.boolean().optional(),
  seccompProfile: profile.optional(),
  appArmorProfile: profile.optional(),
  seLinuxOptions: seLinuxOptions.optional(),
};

/** A Kubernetes PodSecurityContext (Linux fields). */
export const podSecurityContextSchema = z.strictObject({
  ...common,
  fsGroup: id.optional(),
  fsGroupChangePolicy: z.enum(["OnRootMismatch", "Always"]).optional(),
  supplementalGroups: z.array(id).optional(),
  supplementalGroupsPolicy: z.enum(["Merge", "Strict"]).optional(),
  seLinuxChangePolicy: z.enum(["MountOption", "Recursive"]).optional(),
  sysctls: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).optional(),
});

/** A Kubernetes container SecurityContext (Linux fields). */
export const containerSecurityContextSchema = z.strictObject({
  ...common,
  allowPrivilegeEscalation: z.boolean().optional(),
  privileged: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  procMount: z.enum(["Default", "Unmasked"]).optional(),
  capabilities: z
    .strictObject({ add: z.array(z.string().min(1)).optional(), drop: z.array(z.string().min(1)).optional() })
    .optional(),
});

export type PodSecurityContext = z.output<typeof podSecurityContextSchema>;
export type ContainerSecurityContext = z.output<typeof containerSecurityContextSchema>;
export interface WorkspaceAgentSecurityContext {
  pod: PodSecurityContext;
  container: ContainerSecurityContext;
}

/** What the workspace agent pods ran with before the setting existed, and still do by default. */
export const DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT: WorkspaceAgentSecurityContext = {
  pod: {
    runAsNonRoot: true,
    runAsUser: 10001,
    runAsGroup: 10001,
    seccompProfile: { type: "RuntimeDefault" },
  },
  container: {
    runAsNonRoot: true,
    runAsUser: 10001,
    runAsGroup: 10001,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  },
};

/** The pair a container runs with; either part left out keeps its default. */
const overrideSchema = z
  .strictObject({
    pod: podSecurityContextSchema.optional(),
    container: containerSecurityContextSchema.optional(),
  })
  .transform(
    (o): WorkspaceAgentSecurityContext => ({
      pod: o.pod ?? DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT.pod,
      container: o.container ?? DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT.container,
    }),
  );

/** Why the pair cannot run (empty when it can): what the kubelet or the API server would refuse. */
export function securityContextContradictions(sc: WorkspaceAgentSecurityContext): string[] {
  const found: string[] = [];
  const nonRoot = sc.container.runAsNonRoot ?? sc.pod.runAsNonRoot;
  const user = sc.container.runAsUser ?? sc.pod.runAsUser;
  if (nonRoot === true && user === 0)
    found.push(
      "runAsNonRoot is true but runAsUser is 0 (root): the kubelet would refuse to start the container",
    );
  if (sc.container.privileged === true && sc.container.allowPrivilegeEscalation === false)
    found.push(
      "container.privileged is true but container.allowPrivilegeEscalation is false: the API server refuses that",
    );
  return found;
}

/**
 * The setting's schema: the raw text (JSON `{"pod": {...}, "container": {...}}`) in, the pair out.
 * Unset means the defaults.
 */
export const workspaceAgentSecurityContextSetting = jsonText(
  overrideSchema,
  DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT,
  securityContextContradictions,
);
