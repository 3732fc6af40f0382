// `npm run bench -- <name> [args...]` runs the exported run(args) of test/bench/<name>.ts.
import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "main.ts" && !f.endsWith(".test.ts"))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(
    `${name ? `no benchmark named "${name}". ` : ""}usage: npm run bench -- <name> [args...]\n` +
      `benchmarks: ${available.join(", ") || "(none)"}\n`,
  );
  process.exit(2);
}
const mod = (await import(pathToFileURL(`${here}/${name}.ts`).href)) as {
  run?: (args: string[]) => Promise<void>;
};
if (typeof mod.run !== "function") {
  process.stderr.write(`test/bench/${name}.ts does not export run(args)\n`);
  process.exit(2);
}
await mod.run(args);
