// The agent's version: the package version, reported in status and `meridian-agent version`.
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
export const DEFAULT_WORKSPACE_AGENT_IMAGE = `ghcr.io/meridian-dev/meridian-workspace-agent:${VERSION}`;
