// The build context of the agent's unit tests (what the builders need besides the spec): the chart's
// defaults with no policy. Override only what a test is about.
import type { BuildContext } from "./build-context.ts";
import { DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT } from "./security-context.ts";

export const BUILD_CONTEXT: BuildContext = {
  namespacePrefix: "mw-",
  clusterRoles: {
    workspaceAgent: "meridian-agent-workspace-agent",
    flink: "meridian-agent-flink",
    drain: "meridian-agent-drain",
    agent: { namespace: "meridian-system", name: "meridian-agent" },
  },
  image: "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0",
  pullPolicy: "IfNotPresent",
  pullSecrets: [],
  controlPlaneUrl: "https://cp.example.com",
  logLevel: "info",
  caPem: undefined,
  httpsProxy: undefined,
  noProxy: undefined,
  flinkAllowedRegistries: [],
  flinkAllowedJarURIs: [],
  orphanGracePeriodSeconds: 3600,
  savepointBaseDir: undefined,
  securityContext: DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT,
};

/** BUILD_CONTEXT with `over` on top. */
export function buildContext(over: Partial<BuildContext> = {}): BuildContext {
  return { ...BUILD_CONTEXT, ...over };
}
