// `meridian-workspace-agent run|version`: flags mirror the settings table (config.ts); each flag
// also reads from its environment variable, flags winning. A bad setting exits 2 with a message
// naming the setting, its source and what was expected.
import { Command } from "commander";
import { type FlagValues, loadConfig, SETTINGS, type WorkspaceAgentConfig } from "./config.ts";
import { VERSION } from "./version.ts";

export interface CliHandlers {
  run(config: WorkspaceAgentConfig): Promise<void>;
  out?: (line: string) => void;
  err?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

export function buildCli(h: CliHandlers): Command {
  const out = h.out ?? ((l) => process.stdout.write(`${l}\n`));
  const err = h.err ?? ((l) => process.stderr.write(`${l}\n`));
  const program = new Command("meridian-workspace-agent")
    .description("Meridian workspace agent: runs the Flink deployments of one workspace")
    .configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr: (s) => err(s.trimEnd()) })
    .exitOverride();
  const run = program
    .command("run")
    .description("connect to the control plane and reconcile Flink deployments");
  for (const s of SETTINGS)
    run.option(`--${s.flag} <value>`, `${s.expected}${s.env ? ` (env ${s.env})` : ""}`);
  run.action(async (flags: FlagValues) => {
    let config: WorkspaceAgentConfig;
    try {
      config = loadConfig(flags, h.env ?? process.env);
    } catch (e) {
      err((e as Error).message);
      process.exitCode = 2;
      return;
    }
    await h.run(config);
  });
  program
    .command("version")
    .description("print the version")
    .action(() => out(VERSION));
  return program;
}
