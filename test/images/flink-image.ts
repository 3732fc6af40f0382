// A Flink image for the real node in the official image's layout, from registry packages only:
// /opt/flink with lib/, opt/, plugins/ and usrlib/ from the jars fetch-flink.sh takes from Maven
// Central, a Java 17 runtime at /opt/java/openjdk cut from Debian's OpenJDK with jlink, bash and
// the two coreutils the entrypoint needs from Debian, and flink/docker-entrypoint.sh (the official
// commands as Meridian uses them). It is imported as docker.io/library/flink:<version>, the name a
// deployment spec's `flink:<version>` means, so Meridian's pods run it unchanged.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { LOG4J_CONSOLE_PROPERTIES } from "../cluster/flink/flink-config.ts";
import { assertFlinkHome, flinkHomeDir, flinkVersion } from "../cluster/flink/image-handler.ts";
import { cacheDir } from "../cluster/paths.ts";
import { type OciArchive, writeOciArchive } from "./oci.ts";
import { Rootfs } from "./rootfs.ts";

const run = promisify(execFile);
const JAVA_HOME = "/opt/java/openjdk";
const FLINK_HOME = "/opt/flink";
/** The official image's user: Meridian's Flink pods run as it (FLINK_UID). */
export const FLINK_UID = 9999;
/** What Flink's runtime and its connectors use of the JDK (java.desktop for java.beans). */
const MODULES = [
  "java.base",
  "java.compiler",
  "java.desktop",
  "java.instrument",
  "java.logging",
  "java.management",
  "java.management.rmi",
  "java.naming",
  "java.net.http",
  "java.prefs",
  "java.rmi",
  "java.scripting",
  "java.security.jgss",
  "java.security.sasl",
  "java.sql",
  "java.transaction.xa",
  "java.xml",
  "jdk.crypto.ec",
  "jdk.management",
  "jdk.unsupported",
  "jdk.zipfs",
  "jdk.jfr",
  "jdk.net",
];

/** The official image's conf/config.yaml as its Dockerfile leaves it (bind to all interfaces). */
const DEFAULT_CONFIG = `jobmanager.rpc.address: localhost
jobmanager.rpc.port: 6123
jobmanager.bind-host: 0.0.0.0
jobmanager.memory.process.size: 1600m
taskmanager.bind-host: 0.0.0.0
taskmanager.memory.process.size: 1728m
taskmanager.numberOfTaskSlots: 1
parallelism.default: 1
rest.address: 0.0.0.0
rest.bind-address: 0.0.0.0
`;

export const flinkImageName = (version = flinkVersion()) => `docker.io/library/flink:${version}`;

/** A jlink'ed Java runtime from the machine's JDK, cached per JDK build and module list. */
async function jre(): Promise<string> {
  const jlink = "/usr/bin/jlink";
  if (!existsSync(jlink)) throw new Error("jlink not found: apt-get install openjdk-17-jdk-headless");
  const { stderr } = await run("java", ["-version"]);
  const key = createHash("sha256").update(stderr).update(MODULES.join(",")).digest("hex").slice(0, 12);
  const out = join(cacheDir(), "real-node", `jre-${key}`);
  if (existsSync(join(out, "bin", "java"))) return out;
  await rm(`${out}.tmp`, { recursive: true, force: true });
  // biome-ignore format: one flag per pair reads best
  await run(jlink, [
    "--add-modules", MODULES.join(","), "--strip-debug", "--no-man-pages", "--no-header-files",
    "--compress=2", "--output", `${out}.tmp`,
  ]);
  await rename(`${out}.tmp`, out);
  return out;
}

function elfFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && (e.name.endsWith(".so") || e.parentPath.endsWith("/bin")))
    .map((e) => join(e.parentPath, e.name));
}

export async function buildFlinkImage(): Promise<OciArchive> {
  const version = flinkVersion();
  const home = flinkHomeDir();
  assertFlinkHome(home);
  const java = await jre();
  const entrypoint = join(import.meta.dirname, "flink", "docker-entrypoint.sh");
  const hash = createHash("sha256")
    .update(readFileSync(entrypoint))
    .update(readFileSync(import.meta.filename))
    .update(readFileSync(join(home, "SHA1SUMS")))
    .update(java)
    .digest("hex")
    .slice(0, 12);
  const out = join(cacheDir(), "real-node", "images", `flink-${version}-${hash}.tar`);
  const name = flinkImageName(version);
  if (existsSync(out)) return { name, path: out, digest: "" };
  const rootfs = await Rootfs.create("flink");
  try {
    await rootfs.copy(java, JAVA_HOME);
    for (const f of elfFiles(java)) await rootfs.librariesOf(f, java);
    for (const p of ["/bin/bash", "/bin/mkdir", "/bin/ln"]) await rootfs.program(p, p);
    for (const d of ["lib", "opt", "usrlib"]) await rootfs.copy(join(home, d), join(FLINK_HOME, d));
    for (const d of ["plugins", "log", "conf"]) await rootfs.directory(join(FLINK_HOME, d), 0o777);
    await rootfs.file(join(FLINK_HOME, "conf", "config.yaml"), DEFAULT_CONFIG);
    await rootfs.file(join(FLINK_HOME, "conf", "log4j-console.properties"), LOG4J_CONSOLE_PROPERTIES);
    await rootfs.file(join(FLINK_HOME, "conf-default", "log4j-console.properties"), LOG4J_CONSOLE_PROPERTIES);
    await rootfs.file("/docker-entrypoint.sh", readFileSync(entrypoint), 0o755);
    await rootfs.accounts([{ name: "flink", uid: FLINK_UID }]);
    return await writeOciArchive({
      name,
      rootfs: rootfs.dir,
      out,
      config: {
        user: `${FLINK_UID}:${FLINK_UID}`,
        env: {
          PATH: `${JAVA_HOME}/bin:${FLINK_HOME}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
          JAVA_HOME,
          FLINK_HOME,
        },
        entrypoint: ["/docker-entrypoint.sh"],
        cmd: ["help"],
        workingDir: FLINK_HOME,
        exposedPorts: ["6123/tcp", "8081/tcp"],
      },
    });
  } finally {
    await rootfs.remove();
  }
}
