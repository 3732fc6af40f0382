// What the workspace builders (objects.ts) take from the agent's configuration, in one place: the
// controller builds every workspace with it, and the chart's contract test feeds it what the chart
// renders, so a value that stops on the way from values.yaml to the workspace agent Deployment fails.
import type { AgentConfig } from "../config.ts";
import type { EgressDestination, PodSecurityPolicy } from "../hardening-policy.ts";
import type { WorkspaceEgressSetting } from "./egress.ts";
import type { WorkspaceAgentSecurityContext } from "./security-context.ts";

/** What the builders need besides the spec: the agent's configuration and policy. */
export interface BuildContext {
  namespacePrefix: string;
  /** The chart's ClusterRoles the workspace RoleBindings reference (decision 53). */
  clusterRoles: WorkspaceClusterRoles;
  /** The image to run (already resolved: spec override or configured default). */
  image: string;
  pullPolicy: "Always" | "IfNotPresent" | "Never";
  pullSecrets: string[];
  controlPlaneUrl: string;
  logLevel: string;
  caPem: string | undefined;
  /** The control plane's pinned public keys (base64 of the raw bytes), for the workspace agents to verify with. */
  signingPublicKeys?: string[];
  /** The agent's proxy URL: reaches the workspace agent through its proxy Secret (proxy-secret.ts). */
  httpsProxy: string | undefined;
  /** The proxy Secret's revision (ANNOTATION_PROXY_REVISION), chosen per workspace by apply.ts. */
  proxyRevision?: string | undefined;
  noProxy: string | undefined;
  flinkAllowedRegistries: string[];
  /** The local policy's allowedJarURIs: remote locations Flink job jars may come from. */
  flinkAllowedJarURIs: string[];
  /** The local policy's grace period, which the workspace agent applies to orphaned Flink deployments too. */
  orphanGracePeriodSeconds: number;
  savepointBaseDir: string | undefined;
  /** The local policy's podTemplates rules, for the workspace agent. */
  podTemplates?: { allowInitContainers: boolean; allowSidecars: boolean } | undefined;
  /** The pod's and the container's securityContext (the chart's workspaceAgent values, else the defaults). */
  securityContext: WorkspaceAgentSecurityContext;
  /**
   * How the namespace is hardened (hardening.ts, network-policies.ts): the policy's podSecurity and
   * allowedEgress and the configured egress. Unset: restricted, no destinations, the default egress.
   */
  hardening?: NamespaceHardening | undefined;
  /** The local policy's storage.s3: how Flink reaches an S3-compatible store (unset: AWS S3). */
  storageS3?: { endpoint?: string | undefined; pathStyleAccess: boolean } | undefined;
}

export interface WorkspaceClusterRoles {
  /** Bound to ServiceAccount meridian-workspace-agent by RoleBinding meridian-workspace-agent. */
  workspaceAgent: string;
  /** Bound to ServiceAccount meridian-flink by RoleBinding meridian-flink. */
  flink: string;
  /** Bound to the agent itself by RoleBinding meridian-agent-drain (the deletion drain's reads). */
  drain: string;
  /** The agent's own ServiceAccount, the subject of meridian-agent-drain. */
  agent: { namespace: string; name: string };
}

export interface NamespaceHardening {
  podSecurity: PodSecurityPolicy;
  egress: WorkspaceEgressSetting;
  allowedEgress: EgressDestination[];
}

/** Everything but the image, which each workspace resolves (its spec may override the default). */
export function workspaceBuildContext(config: AgentConfig): Omit<BuildContext, "image"> {
  return {
    namespacePrefix: config.policy.namespacePrefix,
    clusterRoles: {
      workspaceAgent: config.workspaceAgentClusterRole,
      flink: config.flinkClusterRole,
      drain: config.drainClusterRole,
      agent: { namespace: config.namespace, name: config.serviceAccountName },
    },
    pullPolicy: config.workspaceAgentPullPolicy,
    pullSecrets: config.workspaceAgentPullSecrets,
    controlPlaneUrl: config.controlPlaneUrl,
    logLevel: config.logLevel,
    caPem: config.caPem,
    signingPublicKeys: config.signingPublicKeys.texts(),
    httpsProxy: config.httpsProxy,
    noProxy: config.noProxy,
    flinkAllowedRegistries: config.policy.allowedRegistries.flink,
    flinkAllowedJarURIs: config.policy.allowedJarURIs,
    orphanGracePeriodSeconds: config.policy.orphanGracePeriodSeconds,
    savepointBaseDir: config.savepointBaseDir,
    podTemplates: config.policy.podTemplates,
    securityContext: config.workspaceAgentSecurityContext,
    storageS3: config.policy.storage.s3,
    hardening: {
      podSecurity: config.policy.podSecurity,
      egress: config.workspaceEgress,
      allowedEgress: config.policy.allowedEgress,
    },
  };
}
