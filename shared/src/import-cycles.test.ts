// No import cycles in the agents' and shared sources: a cycle makes module load order matter (a
// class read before its module finished loading is undefined) and says two files are one. The walk
// follows relative imports and `@meridian/shared/<path>`, type-only imports and re-exports included.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");
const SOURCES = ["agent/src", "workspace-agent/src", "shared/src"];
const SPECIFIER =
  /\b(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** Each file's imports of other files in `files` (absolute paths). */
function importGraph(root: string, files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps: string[] = [];
    for (const m of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? "";
      const target = spec.startsWith(".")
        ? resolve(dirname(file), spec)
        : spec.startsWith("@meridian/shared/")
          ? join(root, "shared/src", `${spec.slice("@meridian/shared/".length)}.ts`)
          : undefined;
      if (target && known.has(target)) deps.push(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** The strongly connected components with more than one file (or a file importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test("the import-cycle finder finds a cycle through type-only imports, re-exports and package paths", () => {
  const root = mkdtempSync(join(tmpdir(), "cycles-"));
  mkdirSync(join(root, "shared/src/x"), { recursive: true });
  const write = (path: string, text: string) => writeFileSync(join(root, path), text);
  write("shared/src/x/a.ts", 'import type { B } from "./b.ts";\nexport type A = B;\n');
  write("shared/src/x/b.ts", 'export { c } from "@meridian/shared/x/c";\nexport type B = 1;\n');
  write("shared/src/x/c.ts", 'import { a } from "./a.ts";\nexport const c = 1;\n');
  write("shared/src/x/d.ts", 'import { c } from "./c.ts";\nimport("node:fs");\n');
  const files = tsFiles(join(root, "shared/src"));
  const found = cycles(importGraph(root, files)).map((c) => c.map((f) => relative(root, f)));
  assert.deepEqual(found, [["shared/src/x/a.ts", "shared/src/x/b.ts", "shared/src/x/c.ts"]]);
});

test("no import cycles in agent/src, workspace-agent/src and shared/src", () => {
  const files = SOURCES.flatMap((d) => tsFiles(join(ROOT, d)));
  assert.ok(files.length > 100, `only ${files.length} files found under ${SOURCES.join(", ")}`);
  const found = cycles(importGraph(ROOT, files)).map((c) => c.map((f) => relative(ROOT, f)).join(" ↔ "));
  assert.deepEqual(found, [], "move what both sides need into a small module that both import");
});
