// The verification job of the fault campaign: built from verify-job/ with Maven (the Flink version of
// test/cluster/flink-version, Flink modules `provided`), cached under $MERIDIAN_CACHE/faults by a hash of
// its sources, and put into a Flink home of its own (lib/ and plugins/ of the fetched runtime, usrlib/
// with the job jar) that the node simulator's Flink image handler runs. The deployment spec below is
// what the control plane sends for it.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { assertFlinkHome, flinkHomeDir, flinkVersion } from "../cluster/flink/image-handler.ts";
import { cacheDir } from "../cluster/paths.ts";
import type { DeploymentBody } from "../control-plane/index.ts";
import { exampleDeployment } from "../e2e/workload.ts";
import type { ExactlyOnceParams } from "./exactly-once.ts";

const SOURCE_DIR = join(import.meta.dirname, "verify-job");
export const VERIFY_JAR = "meridian-verify-job.jar";
export const VERIFY_ENTRY_CLASS = "dev.meridian.faults.ExactlyOnceJob";

async function listSources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && (e.name === "pom.xml" || e.name.endsWith(".java")))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Hash of the job's sources and the Flink version: the cache key of the built jar. */
export async function sourceHash(): Promise<string> {
  const h = createHash("sha256").update(`flink ${flinkVersion()}\n`);
  for (const f of await listSources(SOURCE_DIR)) {
    h.update(`${relative(SOURCE_DIR, f)}\n`).update(readFileSync(f));
  }
  return h.digest("hex").slice(0, 16);
}

function run(cmd: string, args: string[], logPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => out.push(c));
    child.on("error", (err) =>
      reject(new Error(`could not run ${cmd}: install Maven (apt-get install maven)`, { cause: err })),
    );
    child.on("close", async (code) => {
      const text = Buffer.concat(out).toString("utf8");
      await writeFile(logPath, text).catch(() => {});
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `building the verification job failed (mvn exit ${code}); full log in ${logPath}:\n` +
              text.split("\n").slice(-30).join("\n"),
          ),
        );
    });
  });
}

/** The built job jar, building it with Maven when its sources changed (about 10 s). */
export async function verifyJobJar(): Promise<string> {
  const root = join(cacheDir(), "faults", "verify-job");
  const dir = join(root, await sourceHash());
  const jar = join(dir, VERIFY_JAR);
  if (existsSync(jar)) return jar;
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await run(
    "mvn",
    [
      "--batch-mode",
      "--no-transfer-progress",
      "--strict-checksums",
      `-Dmaven.repo.local=${join(cacheDir(), "m2")}`,
      `-Dflink.version=${flinkVersion()}`,
      `-Dmeridian.build.dir=${join(work, "target")}`,
      "-DskipTests",
      "-f",
      join(SOURCE_DIR, "pom.xml"),
      "package",
    ],
    join(root, "mvn.log"),
  );
  await copyFile(join(work, "target", VERIFY_JAR), join(work, VERIFY_JAR));
  await rm(join(work, "target"), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  await rename(work, dir);
  return jar;
}

/**
 * A Flink home for the campaign: lib/ and plugins/ of the fetched runtime (links), usrlib/ with the
 * verification job and the examples jar, so both kinds of deployment run from one image.
 */
export async function campaignFlinkHome(jar: string): Promise<string> {
  const shared = flinkHomeDir();
  assertFlinkHome(shared);
  const home = join(cacheDir(), "faults", `flink-home-${flinkVersion()}`);
  await rm(home, { recursive: true, force: true });
  await mkdir(join(home, "usrlib"), { recursive: true });
  await symlink(join(shared, "lib"), join(home, "lib"));
  await symlink(join(shared, "plugins"), join(home, "plugins"));
  await copyFile(jar, join(home, "usrlib", VERIFY_JAR));
  for (const f of await readdir(join(shared, "usrlib"))) {
    await symlink(join(shared, "usrlib", f), join(home, "usrlib", f));
  }
  await writeFile(join(home, ".complete"), "");
  return home;
}

export interface VerifyRun extends ExactlyOnceParams {
  /** Numbers per second (the run lasts about count / rate seconds). */
  rate: number;
  /** Output directory in the container, under /flink-data (the image handler's shared data dir). */
  output: string;
  /** Checkpoint interval; default 2000 ms. */
  checkpointMs?: number;
}

/** Where a container path under /flink-data lands on this machine, given the handler's dataDir. */
export function localOutputDir(dataDir: string, containerPath: string): string {
  return join(dataDir, containerPath.replace(/^file:(\/\/)?/, ""));
}

/**
 * The verification job as the control plane sends it: the e2e example's size, upgradeMode SAVEPOINT,
 * Kubernetes HA on.
 */
export function verifyDeployment(run: VerifyRun): DeploymentBody {
  const args = { count: run.count, keys: run.keys, rate: run.rate, output: `file://${run.output}` };
  return {
    ...exampleDeployment(),
    job: {
      jarURI: `local:///opt/flink/usrlib/${VERIFY_JAR}`,
      entryClass: VERIFY_ENTRY_CLASS,
      args: [
        ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]),
        "--checkpoint-ms",
        String(run.checkpointMs ?? 2000),
      ],
    },
    // Kubernetes HA: the campaign's workspace has no object storage, so HA's metadata goes where every
    // pod's /flink-data lands (the Flink image handler's shared directory), as storage would give it.
    flinkConfiguration: {
      "high-availability.type": "kubernetes",
      "high-availability.storageDir": "file:///flink-data/ha",
    },
    upgradeMode: "SAVEPOINT",
  };
}
