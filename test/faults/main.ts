// `npm run faults`: the fault campaign on the real local cluster with real Flink (docs/reliability.md).
//   npm run faults                         every scenario
//   npm run faults -- --bounded            the CI subset
//   npm run faults -- --only a,b           the named scenarios
//   npm run faults -- --list               the scenarios and what each proves
// Prints one scoreboard line per scenario and a summary, writes them with every detail to
// $MERIDIAN_CACHE/faults/last-run.json, and exits 1 unless every scenario passed.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "@meridian/shared/log";
import { cacheDir } from "../cluster/paths.ts";
import { missingInfrastructure, NotBuiltError } from "../e2e/prerequisites.ts";
import { runCampaign } from "./campaign.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { summary } from "./scoreboard.ts";

const { values } = parseArgs({
  options: {
    bounded: { type: "boolean", default: false },
    only: { type: "string" },
    list: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});

if (values.list) {
  for (const s of SCENARIOS) console.log(`${s.bounded ? "*" : " "} ${s.name}\n    ${s.proves}`);
  process.exit(0);
}
const only = values.only?.split(",").map((s) => s.trim());
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; npm run faults -- --list names them all`);
  process.exit(2);
}
const scenarios = SCENARIOS.filter((s) => (only ? only.includes(s.name) : !values.bounded || s.bounded));
const missing = missingInfrastructure();
if (missing.length) {
  console.error(new NotBuiltError(missing).message);
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), "meridian-faults-"));
const started = Date.now();
const command = `npm run faults${values.bounded ? " -- --bounded" : only ? ` -- --only ${only.join(",")}` : ""}`;
console.log(`# ${command}: ${scenarios.length} scenarios`);
const logger = values.verbose ? createLogger({ component: "faults", level: "info" }) : undefined;
let code = 1;
// Ctrl-C stops the system (every pod process, the cluster) before exiting; a second one exits at once.
const interrupt = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupt.signal.aborted) process.exit(130);
    console.error(`# ${sig}: stopping the system`);
    interrupt.abort();
    setTimeout(() => process.exit(130), 60_000).unref();
  });
}
try {
  const results = await runCampaign({
    dir,
    scenarios,
    print: (l) => console.log(l),
    logger,
    signal: interrupt.signal,
  });
  const lines = summary(results, Date.now() - started);
  for (const l of lines) console.log(l);
  const out = join(cacheDir(), "faults");
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, "last-run.json"),
    `${JSON.stringify({ command, finishedAt: new Date().toISOString(), summary: lines, results }, null, 2)}\n`,
  );
  code = results.length === scenarios.length && results.every((r) => r.verdict === "PASS") ? 0 : 1;
} catch (err) {
  console.error(`the campaign could not run: ${(err as Error).stack ?? err}`);
} finally {
  if (values.keep) console.log(`# kept ${dir}`);
  else await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
process.exit(code);
