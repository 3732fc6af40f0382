// The static import graph of an entry point, for checking that an image holds everything the process
// loads: which files it reaches and which packages it imports. Type-only imports are left out (type
// stripping erases them). Regex-based: good for this repository's ESM style, not a full parser.
import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

export interface ImportGraph {
  /** Files reached, relative to the repository root. */
  files: string[];
  /** Bare package names imported at run time (node: builtins and @meridian/shared excluded). */
  packages: Map<string, string[]>;
  /** Imports that resolve to no file. */
  unresolved: string[];
}

const IMPORT_RE =
  /(?:^|[\n;])\s*(?:import|export)\s+(type\s+)?(?:[\w*\s{},$]*?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Runtime import specifiers of a TypeScript module's source. */
export function runtimeImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT_RE)) {
    if (m[1]) continue; // import type / export type
    const spec = m[2] ?? m[3];
    if (spec) out.push(spec);
  }
  return out;
}

function packageName(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** Walks runtime imports from `entry` (absolute path); `@meridian/shared/x` maps to shared/src/x.ts. */
export function importGraph(repoRoot: string, entry: string): ImportGraph {
  const seen = new Set<string>();
  const packages = new Map<string, string[]>();
  const unresolved: string[] = [];
  const queue = [resolve(entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const from = relative(repoRoot, file);
    for (const spec of runtimeImports(readFileSync(file, "utf8"))) {
      let target: string | undefined;
      if (spec.startsWith(".")) target = resolve(dirname(file), spec);
      else if (spec.startsWith("@meridian/shared/")) {
        target = join(repoRoot, "shared", "src", `${spec.slice("@meridian/shared/".length)}.ts`);
      } else if (spec.startsWith("node:") || builtinModules.includes(spec)) continue;
      else {
        const name = packageName(spec);
        packages.set(name, [...(packages.get(name) ?? []), from]);
        continue;
      }
      if (target.endsWith(".json")) {
        seen.add(target);
        continue;
      }
      if (existsSync(target)) queue.push(target);
      else unresolved.push(`${from}: ${spec}`);
    }
  }
  return { files: [...seen].map((f) => relative(repoRoot, f)).sort(), packages, unresolved };
}
