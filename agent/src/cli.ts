// The command line: `meridian-agent run [flags]` and `meridian-agent version`. Flags come from the
// settings table in config.ts (each with its environment variable in --help); this module only
// parses them and hands them to the action. Nothing else reads argv.
import { Command, Option } from "commander";
import { SETTINGS } from "./config.ts";
import { VERSION } from "./version.ts";

export interface CliActions {
  /** Flags given on the command line, by setting key (absent ones are undefined). */
  run(flags: Record<string, string | undefined>): Promise<void>;
  version(): void;
}

export function buildCli(actions: CliActions): Command {
  const program = new Command("meridian-agent")
    .description("Meridian data-plane agent: turns the control plane's workspaces into Kubernetes namespaces")
    .showHelpAfterError()
    .exitOverride((err) => {
      // Usage errors exit 2 like configuration errors; --help and version exit 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  const run = program
    .command("run")
    .description("run the agent (flags override MERIDIAN_* environment variables; docs/configuration.md)");
  const attr = new Map<string, string>();
  for (const s of SETTINGS) {
    // The environment is read by config.ts (to name the source in errors), not by commander, so
    // the variable and the default are only shown here.
    const def = s.defaultDoc ?? s.default?.();
    const extra = [s.env ? `env ${s.env}` : "", def ? `default ${def}` : ""].filter(Boolean).join("; ");
    const opt = new Option(`--${s.flag} ${s.valueName}`, `${s.description}${extra ? ` [${extra}]` : ""}`);
    attr.set(opt.attributeName(), s.key);
    run.addOption(opt);
  }
  run.action(async (opts: Record<string, string | undefined>) => {
    const flags: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(opts)) {
      const key = attr.get(name);
      if (key && value !== undefined) flags[key] = value;
    }
    await actions.run(flags);
  });
  program
    .command("version")
    .description("print the agent's version")
    .action(() => actions.version());
  program.version(VERSION, "--version");
  return program;
}
