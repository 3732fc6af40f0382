// `meridian-workspace-agent run|version`, built by the shared CLI builder from the settings table in
// config.ts (each flag with its variable and default in --help). A bad setting exits 2 with a message
// naming the setting, its source and what was expected.
import { buildProcessCli, type ProcessCliOptions } from "@meridian/shared/process/cli";
import { PROCESS_WORKSPACE_AGENT } from "@meridian/shared/process/identity";
import type { Command } from "commander";
import { loadConfig, WORKSPACE_AGENT_SETTINGS, type WorkspaceAgentConfig } from "./config.ts";
import { VERSION } from "./version.ts";

export type CliHandlers = Pick<ProcessCliOptions<WorkspaceAgentConfig>, "run" | "env" | "out" | "err">;

export function buildCli(h: CliHandlers): Command {
  return buildProcessCli({
    name: PROCESS_WORKSPACE_AGENT,
    description: "Meridian workspace agent: runs the Flink deployments of one workspace",
    runDescription: "connect to the control plane and reconcile Flink deployments",
    version: VERSION,
    settings: WORKSPACE_AGENT_SETTINGS,
    load: (input) => loadConfig(input),
    ...h,
  });
}
