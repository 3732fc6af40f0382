// Bundles an entry point and everything it imports into one ESM file: what the container images run,
// and what the tests run wherever they start an agent (the node simulator's image map, the agent
// harness, the benchmarks), so that the tests exercise the artifact that ships.
//
// Why a bundle when the sources run on Node 24 directly (docs/decisions.md, "Bundled entry points"):
// measured with `npm run bench -- workspace-agent`, type stripping costs ~18 MB of resident memory per
// process and loading node_modules file by file ~10 MB more; the workspace agent's goal is ≤ 100 MB.
//
// The output keeps every identifier (only whitespace and syntax are minified), so stack traces still
// name functions; `main.js.map` beside it maps positions back to the sources when Node runs with
// --enable-source-maps. Third-party license comments go to `main.js.LEGAL.txt`.
//
//   node shared/build/bundle.ts                    # agent/dist/main.js and workspace-agent/dist/main.js
//   node shared/build/bundle.ts workspace-agent    # one of them
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildOptions, build } from "esbuild";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The two agents' entry points and where their bundles go. */
export const ENTRY_POINTS = {
  agent: { entry: "agent/src/main.ts", out: "agent/dist/main.js" },
  "workspace-agent": { entry: "workspace-agent/src/main.ts", out: "workspace-agent/dist/main.js" },
} as const;
export type AgentName = keyof typeof ENTRY_POINTS;

// CommonJS dependencies (undici, pino, commander) call require() for Node's built-in modules; an ESM
// bundle has no require of its own, so it gets one.
const REQUIRE_SHIM =
  'import { createRequire as __meridianCreateRequire } from "node:module";\n' +
  "const require = __meridianCreateRequire(import.meta.url);";

/**
 * Bundles `entry` into `outfile` (paths relative to the repository root, or absolute). The files are written to a
 * temporary name first and renamed, so a process starting from the old bundle meanwhile reads a
 * whole file, never half of one.
 */
export async function bundle(entry: string, outfile: string): Promise<string> {
  const out = resolve(REPO_ROOT, outfile);
  const result = await build(options(entry, out));
  mkdirSync(dirname(out), { recursive: true });
  const suffix = `.${process.pid}.tmp`;
  const files = result.outputFiles ?? [];
  for (const f of files) writeFileSync(f.path + suffix, f.contents);
  for (const f of files) renameSync(f.path + suffix, f.path);
  return out;
}

/** The modules a bundle of `entry` still imports at run time (Node's built-in modules, if all is well). */
export async function externalImports(entry: string): Promise<string[]> {
  const result = await build({ ...options(entry, resolve(REPO_ROOT, "dist/x.js")), metafile: true });
  return Object.values(result.metafile?.outputs ?? {}).flatMap((o) =>
    o.imports.filter((i) => i.external).map((i) => i.path),
  );
}

function options(entry: string, out: string): BuildOptions {
  return {
    entryPoints: [resolve(REPO_ROOT, entry)],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // Identifiers stay: a stack trace in `kubectl logs` names the function that threw.
    minifyWhitespace: true,
    minifySyntax: true,
    // ASCII-only output: V8 keeps a script with one non-Latin-1 character as a two-byte string,
    // which doubled the bundle's footprint in the heap (measured 6.4 MB instead of 3.2 MB).
    charset: "ascii",
    legalComments: "linked",
    sourcemap: "linked",
    sourcesContent: false,
    banner: { js: REQUIRE_SHIM },
    write: false,
    logLevel: "error",
  };
}

const built = new Map<string, Promise<string>>();

/**
 * The agent's bundle, built once per process from the current sources (≈ 0.5 s), so that a test
 * never runs a stale one. Returns its absolute path.
 */
export function agentBundle(name: AgentName): Promise<string> {
  const { entry, out } = ENTRY_POINTS[name];
  let p = built.get(name);
  if (!p) {
    p = bundle(entry, out);
    built.set(name, p);
  }
  return p;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const names = process.argv.slice(2) as AgentName[];
  const unknown = names.filter((n) => !(n in ENTRY_POINTS));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown entry point ${unknown.join(", ")}; known: ${Object.keys(ENTRY_POINTS).join(", ")}\n`,
    );
    process.exit(2);
  }
  for (const name of names.length > 0 ? names : (Object.keys(ENTRY_POINTS) as AgentName[])) {
    const t0 = performance.now();
    const out = await agentBundle(name);
    process.stdout.write(`${relative(process.cwd(), out)} (${(performance.now() - t0).toFixed(0)} ms)\n`);
  }
}
