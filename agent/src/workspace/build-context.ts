// What the workspace builders (objects.ts) take from the agent's configuration, in one place: the
// controller builds every workspace with it, and the chart's contract test feeds it what the chart
// renders, so a value that stops on the way from values.yaml to the workspace agent Deployment fails.
import type { AgentConfig } from "../config.ts";
import type { BuildContext } from "./objects.ts";

/** Everything but the image, which each workspace resolves (its spec may override the default). */
export function workspaceBuildContext(config: AgentConfig): Omit<BuildContext, "image"> {
  return {
    namespacePrefix: config.policy.namespacePrefix,
    pullPolicy: config.workspaceAgentPullPolicy,
    pullSecrets: config.workspaceAgentPullSecrets,
    controlPlaneUrl: config.controlPlaneUrl,
    logLevel: config.logLevel,
    caPem: config.caPem,
    httpsProxy: config.httpsProxy,
    noProxy: config.noProxy,
    flinkAllowedRegistries: config.policy.allowedRegistries.flink,
    flinkAllowedJarURIs: config.policy.allowedJarURIs,
    orphanGracePeriodSeconds: config.policy.orphanGracePeriodSeconds,
    savepointBaseDir: config.savepointBaseDir,
    securityContext: config.workspaceAgentSecurityContext,
    storageS3: config.policy.storage.s3,
  };
}
