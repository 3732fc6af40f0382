// The command line: `meridian-agent run [flags]` and `meridian-agent version`, built by the shared
// CLI builder from the settings table in config.ts (each flag with its variable and default in
// --help). Nothing else reads argv.
import { buildProcessCli, type ProcessCliOptions } from "@meridian/shared/process/cli";
import { PROCESS_AGENT } from "@meridian/shared/process/identity";
import type { Command } from "commander";
import { AGENT_SETTINGS, type AgentConfig, loadConfig } from "./config.ts";
import { VERSION } from "./version.ts";

export type CliHandlers = Pick<ProcessCliOptions<AgentConfig>, "run" | "env" | "out" | "err">;

export function buildCli(h: CliHandlers): Command {
  return buildProcessCli({
    name: PROCESS_AGENT,
    description: "Meridian data-plane agent: turns the control plane's workspaces into Kubernetes namespaces",
    runDescription: "run the agent (flags override MERIDIAN_* environment variables; docs/configuration.md)",
    version: VERSION,
    settings: AGENT_SETTINGS,
    load: (input) => loadConfig(input),
    ...h,
  });
}
