// A small Dockerfile reader for the image tests: instructions (continuations joined, comments dropped),
// stages with their base image (ARG defaults substituted), and .dockerignore matching. Enough for the
// root Dockerfile; not a general BuildKit parser (no heredocs, no escape directive).
import { matchesGlob } from "node:path";

export interface Instruction {
  /** Upper-cased keyword: FROM, COPY, RUN, ... */
  keyword: string;
  /** Everything after the keyword, trimmed. */
  rest: string;
  line: number;
}

export interface Stage {
  name: string | undefined;
  /** The base image with global ARG defaults substituted. */
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = "";
  let startLine = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trimEnd();
    if (buffer === "" && (/^\s*#/.test(line) || line.trim() === "")) return;
    if (buffer === "") startLine = i + 1;
    if (/^\s*#/.test(line)) return; // a comment inside a continued instruction
    if (line.endsWith("\\")) {
      buffer += `${line.slice(0, -1)} `;
      return;
    }
    buffer += line;
    const m = /^\s*(\w+)\s*(.*)$/s.exec(buffer);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), rest: m[2]!.trim(), line: startLine });
    buffer = "";
  });
  return out;
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of parseInstructions(text)) {
    if (ins.keyword === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.rest);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.rest}`);
      const base = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_all, a?: string, b?: string) => {
        const name = (a ?? b)!;
        return globalArgs[name] ?? stages.find((s) => s.name === name)?.name ?? `\${${name}}`;
      });
      stages.push({ name: m[2], base, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === "ARG") {
        const [name, value] = ins.rest.split("=", 2);
        globalArgs[name!.trim()] = (value ?? "").trim().replace(/^"(.*)"$/, "$1");
      }
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

export interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
  line: number;
}

/** The COPY instructions of a stage, flags separated from sources and destination. */
export function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === "COPY" || i.keyword === "ADD")
    .map((i) => {
      const words = i.rest.split(/\s+/);
      const flags = words.filter((w) => w.startsWith("--"));
      const paths = words.filter((w) => !w.startsWith("--"));
      const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)!, line: i.line };
    });
}

/** The exec-form array of the stage's last `keyword` (ENTRYPOINT, CMD), or the shell-form string. */
export function execForm(stage: Stage, keyword: string): string[] | string | undefined {
  const ins = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (!ins) return undefined;
  try {
    const parsed: unknown = JSON.parse(ins.rest);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === "string")) return parsed;
  } catch {
    // not JSON: shell form
  }
  return ins.rest;
}

/** The stage's last USER, or undefined (root). */
export function user(stage: Stage): string | undefined {
  return stage.instructions.filter((i) => i.keyword === "USER").at(-1)?.rest;
}

/** The stage's ENV variables (`ENV K=V K2="V 2"`; the legacy `ENV K V` form too), later ones winning. */
export function envVars(stage: Stage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of stage.instructions.filter((ins) => ins.keyword === "ENV")) {
    const legacy = /^(\w+)\s+([^=]*)$/.exec(i.rest);
    if (legacy) {
      out[legacy[1]!] = legacy[2]!.trim();
      continue;
    }
    for (const m of i.rest.matchAll(/(\w+)=("([^"]*)"|\S*)/g)) out[m[1]!] = m[3] ?? m[2]!;
  }
  return out;
}

/** The stage's LABEL keys and values. */
export function labels(stage: Stage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ins of stage.instructions.filter((i) => i.keyword === "LABEL")) {
    for (const m of ins.rest.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      out[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1");
    }
  }
  return out;
}

/** True when .dockerignore `patterns` leave `path` (relative to the context) out of the build context. */
export function isIgnored(path: string, patterns: string[]): boolean {
  let ignored = false;
  const parts = path.split("/");
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, "");
    // A pattern matches the path itself or any parent directory of it.
    const hit = parts.some((_p, i) => matchesGlob(parts.slice(0, i + 1).join("/"), pattern));
    if (hit) ignored = !negate;
  }
  return ignored;
}

export function dockerignorePatterns(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
