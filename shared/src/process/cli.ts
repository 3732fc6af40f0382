// The command line of every Meridian process: `<name> run [flags]` and `<name> version`. The flags of
// `run` come from the process's settings table (each with its variable and default in --help); the
// environment is read by the settings loader, not by commander, so errors can name the source.
// Exit codes: 0 for help and version, 2 for a usage error or a bad setting, 1 when `run` fails.
import { Command, CommanderError, Option } from "commander";
import { ConfigError, type SettingsInput, type SettingsTable, shownDefault } from "./settings.ts";

export interface ProcessCliOptions<C> {
  /** The program's name, e.g. `meridian-agent`; prefixes its error lines. */
  name: string;
  description: string;
  runDescription: string;
  version: string;
  settings: SettingsTable;
  /** Loads the configuration; a ConfigError is printed and exits 2. */
  load(input: SettingsInput): C;
  run(config: C): Promise<void>;
  /** Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where help and version go; default stdout. */
  out?: (text: string) => void;
  /** Where errors go; default stderr. */
  err?: (text: string) => void;
}

export function buildProcessCli<C>(o: ProcessCliOptions<C>): Command {
  const out = o.out ?? ((t: string) => void process.stdout.write(t));
  const err = o.err ?? ((t: string) => void process.stderr.write(t));
  const program = new Command(o.name)
    .description(o.description)
    .configureOutput({ writeOut: out, writeErr: err })
    .showHelpAfterError()
    .exitOverride();
  const run = program.command("run").description(o.runDescription);
  const keyOf = new Map<string, string>();
  for (const [key, s] of Object.entries(o.settings)) {
    const def = shownDefault(s);
    const env = s.env ? `env ${s.env}${s.envAlias ? `, else ${s.envAlias}` : ""}` : "";
    const extra = [env, def ? `default ${def}` : ""].filter(Boolean).join("; ");
    const opt = new Option(
      `--${s.flag} ${s.valueName ?? "<value>"}`,
      `${s.description} Expected: ${s.expected}.${extra ? ` [${extra}]` : ""}`,
    );
    keyOf.set(opt.attributeName(), key);
    run.addOption(opt);
  }
  run.action(async (opts: Record<string, string | undefined>) => {
    const flags: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts)) {
      const key = keyOf.get(name);
      if (key && value !== undefined) flags[key] = value;
    }
    let config: C;
    try {
      config = o.load({ flags, env: o.env ?? process.env });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      err(`${o.name}: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    await o.run(config);
  });
  program
    .command("version")
    .description(`print the version of ${o.name}`)
    .action(() => out(`${o.name} ${o.version}\n`));
  program.version(`${o.name} ${o.version}`, "--version");
  return program;
}

/** Parses `argv` and runs the command, turning failures into exit codes (see the top of this file). */
export async function runProcessCli(program: Command, argv: readonly string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : 2;
    else {
      process.stderr.write(`${program.name()}: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  }
}
