// The node simulator's Flink image: runs `flink:*` containers (and any configured image) as local
// JVMs from the Flink runtime fetch-flink.sh caches, following the official image's entrypoint.
// This file does the file work (reads the pod's mounted config.yaml, writes the pod's conf dir);
// flink-command.ts decides the command line.
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readdir, stat, symlink, writeFile } from "node:fs/promises";
import { delimiter, join, resolve } from "node:path";
import type { ContainerContext, ContainerLaunch, ImageMapEntry } from "../node-simulator/image-map.ts";
import { imageMatches } from "../node-simulator/image-map.ts";
import { cacheDir } from "../paths.ts";
import { CONTAINER_FLINK_HOME, entrypointRole, flinkCommand } from "./flink-command.ts";
import {
  type FlinkConfig,
  LOG4J_CONSOLE_PROPERTIES,
  parseFlinkYaml,
  renderFlinkYaml,
} from "./flink-config.ts";
import { parseQuantityBytes } from "./flink-memory.ts";
import { builtInPlugins, enableBuiltInPlugins } from "./plugins.ts";

/** Images the handler runs by default: the official image under any registry, any tag. */
export const FLINK_IMAGE_PATTERNS = ["flink", "flink:*", "*/flink", "*/flink:*"];

export interface FlinkImageHandlerOptions {
  /**
   * Shared root for container paths no volume covers (savepoints, checkpoints): it outlives pods, so
   * a savepoint one JobManager writes is there for the next. Default `<simulator dir>/flink-data`.
   */
  dataDir?: string;
  /** Flink home (lib/, usrlib/, plugins/); default flinkHomeDir(). */
  flinkHome?: string;
  /** More image patterns (globs as in the image map) on top of FLINK_IMAGE_PATTERNS. */
  images?: string[];
  /** The java binary; default $JAVA_HOME/bin/java or the first java on PATH. */
  java?: string;
  /** Replaces LOCAL_JVM_OPTIONS (e.g. to add -Xlog or remove -XX:TieredStopAtLevel=1). */
  localJvmOptions?: string[];
}

const here = import.meta.dirname;

/** The pinned Flink version (test/cluster/flink-version). */
export function flinkVersion(): string {
  return readFileSync(join(here, "..", "flink-version"), "utf8").trim();
}

/** Where fetch-flink.sh caches the pinned Flink: $MERIDIAN_CACHE/flink/<version>. */
export function flinkHomeDir(): string {
  return join(cacheDir(), "flink", flinkVersion());
}

/** Throws, saying how to fetch it, unless the cached Flink home is complete. */
export function assertFlinkHome(flinkHome: string): void {
  if (!existsSync(join(flinkHome, ".complete"))) {
    throw new Error(
      `no Flink runtime in ${flinkHome}: run bash test/cluster/fetch-flink.sh (about a minute)`,
    );
  }
}

/** $JAVA_HOME/bin/java, else the first `java` on PATH, else "java". */
export function findJava(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    ...(env.JAVA_HOME ? [join(env.JAVA_HOME, "bin", "java")] : []),
    ...(env.PATH ?? "").split(delimiter).map((d) => join(d, "java")),
  ];
  return candidates.find((c) => existsSync(c)) ?? "java";
}

/** The pod's Flink conf dir in the container: $FLINK_CONF_DIR or /opt/flink/conf. */
function containerConfDir(ctx: ContainerContext): string {
  return ctx.env.FLINK_CONF_DIR || `${CONTAINER_FLINK_HOME}/conf`;
}

/** Local files mounted into the container's conf dir: whole-dir mounts and subPath file mounts. */
async function mountedConfFiles(ctx: ContainerContext): Promise<Map<string, string>> {
  const confDir = containerConfDir(ctx);
  const files = new Map<string, string>();
  for (const [mountPath, local] of Object.entries(ctx.volumeDirs)) {
    if (mountPath === confDir) {
      for (const e of await readdir(local, { withFileTypes: true }).catch(() => [])) {
        if (!e.name.startsWith(".") && (await stat(join(local, e.name))).isFile()) {
          files.set(e.name, join(local, e.name));
        }
      }
    } else if (mountPath.startsWith(`${confDir}/`) && !mountPath.slice(confDir.length + 1).includes("/")) {
      files.set(mountPath.slice(confDir.length + 1), local);
    }
  }
  return files;
}

function readConfig(files: Map<string, string>): FlinkConfig {
  const file = files.get("config.yaml") ?? files.get("flink-conf.yaml");
  return file ? parseFlinkYaml(readFileSync(file, "utf8")) : {};
}

/** A Flink home for the pod: the shared one, or (with a usrlib volume) links to it plus that volume. */
async function podFlinkHome(ctx: ContainerContext, shared: string): Promise<string> {
  const usrlib = ctx.volumeDirs[`${CONTAINER_FLINK_HOME}/usrlib`];
  if (!usrlib) return shared;
  const home = join(ctx.podDir, "flink-home");
  await mkdir(home, { recursive: true });
  for (const [name, target] of [
    ["lib", join(shared, "lib")],
    ["plugins", join(shared, "plugins")],
    ["usrlib", usrlib],
  ] as const) {
    if (!existsSync(join(home, name))) await symlink(target, join(home, name));
  }
  return home;
}

/**
 * The pod's plugins directory when it has one of its own (a volume at /opt/flink/plugins, or built-in
 * plugins to enable), with ENABLE_BUILT_IN_PLUGINS's jars of the shared opt/ linked in as the image's
 * entrypoint does; undefined: the shared plugins/.
 */
async function podPluginsDir(ctx: ContainerContext, shared: string): Promise<string | undefined> {
  const volume = ctx.volumeDirs[`${CONTAINER_FLINK_HOME}/plugins`];
  const jars = builtInPlugins(ctx.env);
  if (!volume && jars.length === 0) return undefined;
  const dir = volume ?? join(ctx.podDir, `flink-plugins-${ctx.container.name}`);
  await mkdir(dir, { recursive: true });
  await enableBuiltInPlugins(jars, join(shared, "opt"), dir);
  return dir;
}

/** `<simulator dir>/flink-data`: pod dirs are `<simulator dir>/pods/<pod>`. */
export function defaultDataDir(ctx: ContainerContext): string {
  return resolve(ctx.podDir, "..", "..", "flink-data");
}

/** Builds the pod's conf dir and JVM command line for one Flink container. */
export async function launchFlink(
  ctx: ContainerContext,
  opts: FlinkImageHandlerOptions,
): Promise<ContainerLaunch> {
  const shared = opts.flinkHome ?? flinkHomeDir();
  assertFlinkHome(shared);
  const argv = [...(ctx.container.command ?? []), ...(ctx.container.args ?? [])];
  const { role } = entrypointRole(argv);
  const confDir = join(ctx.podDir, `flink-conf-${ctx.container.name}`);
  const tmpDir = join(ctx.podDir, `flink-tmp-${ctx.container.name}`);
  await mkdir(confDir, { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  const mounted = await mountedConfFiles(ctx);
  const limit = ctx.container.resources?.limits?.memory;
  const cmd = flinkCommand({
    argv,
    env: ctx.env,
    config: readConfig(mounted),
    podIP: ctx.podIP,
    namespace: ctx.pod.metadata?.namespace ?? "default",
    hostsFile: ctx.hostsFile,
    memoryLimitBytes: limit ? parseQuantityBytes(String(limit)) : undefined,
    flinkHome: await podFlinkHome(ctx, shared),
    confDir,
    tmpDir,
    paths: { volumeDirs: ctx.volumeDirs, dataDir: opts.dataDir ?? defaultDataDir(ctx), exists: existsSync },
    java: opts.java ?? findJava(),
    localJvmOptions: opts.localJvmOptions,
  });
  for (const [name, path] of mounted) {
    if (name !== "config.yaml" && name !== "flink-conf.yaml") await copyFile(path, join(confDir, name));
  }
  if (!mounted.has("log4j-console.properties")) {
    await writeFile(join(confDir, "log4j-console.properties"), LOG4J_CONSOLE_PROPERTIES);
  }
  await writeFile(join(confDir, "config.yaml"), renderFlinkYaml(cmd.config));
  for (const key of ["execution.checkpointing.savepoint-dir", "execution.checkpointing.dir"]) {
    const dir = cmd.config[key]?.replace(/^file:\/\//, "");
    if (dir?.startsWith("/")) await mkdir(dir, { recursive: true });
  }
  if (role === "standalone-job" && !existsSync(join(cmd.env.FLINK_HOME!, "usrlib"))) {
    throw new Error(`standalone-job needs job jars in ${join(cmd.env.FLINK_HOME!, "usrlib")}`);
  }
  // Flink finds plugins through FLINK_PLUGINS_DIR: the pod's own, where its plugins were enabled.
  const pluginsDir = await podPluginsDir(ctx, shared);
  const env = { ...ctx.env, ...cmd.env, ...(pluginsDir ? { FLINK_PLUGINS_DIR: pluginsDir } : {}) };
  return { command: cmd.command, args: cmd.args, env, cwd: ctx.podDir };
}

/** The image-map entry for Flink images (FLINK_IMAGE_PATTERNS plus opts.images). */
export function flinkImageHandler(opts: FlinkImageHandlerOptions = {}): ImageMapEntry {
  const patterns = [...FLINK_IMAGE_PATTERNS, ...(opts.images ?? [])];
  return {
    name: "flink (local JVM)",
    matches: (image) => patterns.some((p) => imageMatches(p, image)),
    launch: (ctx) => launchFlink(ctx, opts),
  };
}
