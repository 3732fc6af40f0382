// One settings mechanism for every Meridian process. A process declares a table: each setting has a
// flag, an environment variable, a default, a zod schema and a description. At start the table is
// resolved once (flag, then environment, then default), every value is validated by its schema, and
// all problems are thrown together as one ConfigError, each naming the setting, where its value came
// from (flag, env, file or default) and what was expected. The CLI (cli.ts) and the settings tables
// of docs/configuration.md (settings-doc.ts) are generated from the same table.
import type { z } from "zod";

export type Source = "flag" | "env" | "file" | "default";

export interface Setting<S extends z.ZodType = z.ZodType> {
  /** Long flag without dashes, e.g. `control-plane-url`. */
  flag: string;
  env?: string;
  /** A conventional variable read when `env` is unset (e.g. KUBECONFIG, as kubectl does). */
  envAlias?: string;
  /** Placeholder in --help, e.g. `<url>`; default `<value>`. */
  valueName?: string;
  description: string;
  /** What a valid value looks like, for error messages, --help and docs. */
  expected: string;
  /** Validates (and converts) the raw text; receives undefined when nothing set the setting. */
  schema: S;
  /** The raw default; receives the settings resolved before this one (table order). */
  default?: (earlier: Readonly<Record<string, string | undefined>>) => string | undefined;
  /** Shown in --help and docs instead of the computed default. */
  defaultDoc?: string;
}

export type SettingsTable = Readonly<Record<string, Setting>>;

/** The validated values of a table, by setting key. */
export type SettingsOf<T extends SettingsTable> = { [K in keyof T]: z.output<T[K]["schema"]> };

/** Declares a table, keeping each schema's type (the keys' order is the order of --help and docs). */
export function settingsTable<T extends Record<string, Setting>>(table: T): T {
  return table;
}

export interface SettingsInput {
  /** Flags given on the command line, by setting key (absent ones undefined). */
  flags: Readonly<Record<string, string | undefined>>;
  env: Readonly<Record<string, string | undefined>>;
}

export interface Origin {
  source: Source;
  /** The raw text, undefined when nothing set it. */
  value: string | undefined;
}

/** All problems of one start, each a line naming the setting, its source and what was expected. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * A table being loaded: raw values resolved (flag → env → default) on construction; `validate()`
 * runs the schemas. `problem()` adds a finding of the process's own (a cross-setting rule, an
 * unreadable file) in the same format; `finish()` throws them all as one ConfigError.
 */
export class SettingsLoad<T extends SettingsTable> {
  readonly table: T;
  readonly raw: Record<string, string | undefined> = {};
  readonly origins = new Map<string, Origin>();
  readonly problems: string[] = [];

  constructor(table: T, input: SettingsInput) {
    this.table = table;
    for (const [key, s] of Object.entries(table)) {
      const fromFlag = input.flags[key];
      const fromEnv =
        (s.env ? input.env[s.env] : undefined) || (s.envAlias ? input.env[s.envAlias] : undefined);
      const origin: Origin =
        fromFlag !== undefined
          ? { source: "flag", value: fromFlag }
          : fromEnv !== undefined && fromEnv !== ""
            ? { source: "env", value: fromEnv }
            : { source: "default", value: s.default?.(this.raw) };
      this.raw[key] = origin.value;
      this.origins.set(key, origin);
    }
  }

  /** Every setting through its schema; undefined (and problems recorded) when any fails. */
  validate(): SettingsOf<T> | undefined {
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const [key, s] of Object.entries(this.table)) {
      const parsed = s.schema.safeParse(this.raw[key]);
      if (parsed.success) out[key] = parsed.data;
      else {
        ok = false;
        for (const issue of parsed.error.issues) this.problem(key, issue.message);
      }
    }
    return ok ? (out as SettingsOf<T>) : undefined;
  }

  /** Records `setting --flag / ENV (from env: "raw"): <message>; expected <expected>`. */
  problem(key: keyof T & string, message: string, opts: { expected?: boolean } = {}): void {
    const s = this.table[key];
    const origin = this.origins.get(key);
    const names = s ? `--${s.flag}${s.env ? ` / ${s.env}` : ""}` : key;
    const value = origin?.value === undefined ? "not set" : JSON.stringify(origin.value);
    const expected = (opts.expected ?? true) && s ? `; expected ${s.expected}` : "";
    this.problems.push(
      `setting ${names} (from ${origin?.source ?? "default"}: ${value}): ${message}${expected}`,
    );
  }

  /** Throws every recorded problem as one ConfigError; returns when there is none. */
  finish(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/** Resolves and validates a table in one step: the values, or one ConfigError naming every problem. */
export function loadSettings<T extends SettingsTable>(table: T, input: SettingsInput): SettingsOf<T> {
  const load = new SettingsLoad(table, input);
  const values = load.validate();
  load.finish();
  return values as SettingsOf<T>;
}

/** The default as shown to people: `defaultDoc`, else the computed default, else undefined. */
export function shownDefault(s: Setting): string | undefined {
  return s.defaultDoc ?? (s.default?.({}) || undefined);
}
