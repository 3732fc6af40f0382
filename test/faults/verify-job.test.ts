// The verification job itself: Maven builds it against the pinned Flink, and it runs to the end in a
// local Flink (a MiniCluster in one JVM, with the runtime fetch-flink.sh caches) with checkpoints and
// its exactly-once file sink; the checker finds every number exactly once, and a campaign Flink home
// carries its jar in usrlib/. Needs Maven, a JDK and `bash test/cluster/fetch-flink.sh`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, lstatSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { findJava, flinkHomeDir, flinkVersion } from "../cluster/flink/image-handler.ts";
import { checkOutputDir } from "./exactly-once.ts";
import {
  campaignFlinkHome,
  VERIFY_ENTRY_CLASS,
  VERIFY_JAR,
  verifyDeployment,
  verifyJobJar,
} from "./verify-job.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function runJava(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(findJava(), args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.on("close", (code) => resolve({ code, out }));
  });
}

test("the job runs to its end in a local Flink and commits every number exactly once", async () => {
  const jar = await verifyJobJar();
  assert.ok(existsSync(jar), jar);
  assert.equal(await verifyJobJar(), jar, "a second call reuses the cached jar");
  const out = await mkdtemp(join(tmpdir(), "meridian-verify-"));
  dirs.push(out);
  const params = { count: 3000, keys: 7 };
  const { code, out: log } = await runJava(
    [
      "-cp",
      `${join(flinkHomeDir(), "lib", "*")}:${jar}`,
      VERIFY_ENTRY_CLASS,
      "--count",
      String(params.count),
      "--keys",
      String(params.keys),
      "--rate",
      "1500",
      "--output",
      `file://${out}`,
      "--checkpoint-ms",
      "500",
    ],
    120_000,
  );
  assert.equal(code, 0, `the job failed:\n${log.slice(-3000)}`);
  const report = await checkOutputDir(out, params, true);
  assert.equal(report.ok, true, report.summary);
  assert.equal(report.lines, params.count);
});

test("bad arguments stop the job with a named error", async () => {
  const jar = await verifyJobJar();
  const { code, out } = await runJava(
    ["-cp", `${join(flinkHomeDir(), "lib", "*")}:${jar}`, VERIFY_ENTRY_CLASS, "--count", "5"],
    60_000,
  );
  assert.notEqual(code, 0);
  assert.match(out, /missing argument --keys/);
});

test("the campaign's Flink home has the job in usrlib/ and the runtime's lib/", async () => {
  const home = await campaignFlinkHome(await verifyJobJar());
  assert.ok(existsSync(join(home, "usrlib", VERIFY_JAR)));
  assert.ok(lstatSync(join(home, "lib")).isSymbolicLink());
  assert.ok(existsSync(join(home, "lib", `flink-runtime-${flinkVersion()}.jar`)), "lib/ has the runtime");
  assert.ok(existsSync(join(home, ".complete")));
  const spec = verifyDeployment({ count: 10, keys: 2, rate: 5, output: "/flink-data/verify/x" });
  assert.equal(spec.job?.jarURI, `local:///opt/flink/usrlib/${VERIFY_JAR}`);
  assert.deepEqual(spec.job?.args?.slice(-4), [
    "--output",
    "file:///flink-data/verify/x",
    "--checkpoint-ms",
    "2000",
  ]);
});
