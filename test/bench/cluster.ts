// `npm run bench -- cluster [--runs N]`: how long the local control plane takes to start (warm:
// binaries already built) until ready for tests, and to stop; plus the cold build time of the
// binaries when build-kube.sh's log says it.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startCluster } from "../cluster/cluster.ts";
import { isProcessAlive } from "../cluster/process.ts";
import { readState } from "../cluster/state.ts";

const BUILD_LOGS = ["/tmp/kube-build.log"];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** "build-kube: built in 367s" from the build script's log, if any log has it. */
function coldBuildSeconds(): { seconds: number; log: string } | undefined {
  for (const log of [process.env.MERIDIAN_KUBE_BUILD_LOG, ...BUILD_LOGS]) {
    if (!log) continue;
    try {
      const m = /built in (\d+)s/.exec(readFileSync(log, "utf8"));
      if (m) return { seconds: Number(m[1]), log };
    } catch {}
  }
  return undefined;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { runs: { type: "string", default: "3" } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a whole number ≥ 1");
  const running = readState();
  if (running && isProcessAlive(running.pid)) {
    process.stderr.write("warning: `npm run cluster -- up` cluster is running; figures will be skewed\n");
  }
  const starts: number[] = [];
  const stops: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const t0 = performance.now();
    const cluster = await startCluster();
    const t1 = performance.now();
    await cluster.stop();
    const t2 = performance.now();
    starts.push(t1 - t0);
    stops.push(t2 - t1);
    process.stdout.write(`run ${i}: start to ready ${seconds(t1 - t0)}, stop ${seconds(t2 - t1)}\n`);
  }
  process.stdout.write(
    `median (${runs} runs): start to ready ${seconds(median(starts))}, stop ${seconds(median(stops))}\n`,
  );
  const build = coldBuildSeconds();
  process.stdout.write(
    build
      ? `cold build of the Kubernetes binaries: ${build.seconds} s (from ${build.log})\n`
      : "cold build time: unknown (no build-kube.sh log with 'built in Ns'; set MERIDIAN_KUBE_BUILD_LOG)\n",
  );
}
