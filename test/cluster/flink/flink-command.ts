// The pure half of the Flink image: container argv + env + config.yaml in, the JVM command line
// and the effective Flink configuration out. It follows the official image's docker-entrypoint.sh
// (`jobmanager`, `standalone-job …`, `taskmanager`; JOB_MANAGER_RPC_ADDRESS, FLINK_PROPERTIES,
// TASK_MANAGER_NUMBER_OF_TASK_SLOTS) and then jobmanager.sh / standalone-job.sh / taskmanager.sh
// (memory flags, --configDir), with the overrides a pod running as a local process needs:
// everything bound to and advertised on the pod IP, names resolved through the simulator's hosts
// file, container paths mapped to local directories.
import { posix } from "node:path";
import {
  type FlinkConfig,
  mapContainerPath,
  PATH_OPTIONS,
  type PathMapping,
  parseFlinkProperties,
} from "./flink-config.ts";
import {
  JOBMANAGER_PROCESS_MIB,
  jobManagerMemory,
  parseFlinkMemorySize,
  processSizeMiB,
  TASKMANAGER_PROCESS_MIB,
  taskManagerMemory,
} from "./flink-memory.ts";

export type FlinkRole = "jobmanager" | "standalone-job" | "taskmanager";

export const MAIN_CLASSES: Record<FlinkRole, string> = {
  jobmanager: "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
  "standalone-job": "org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint",
  taskmanager: "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
};

/** Where the official image keeps Flink, and so where pods mount conf/ and usrlib/. */
export const CONTAINER_FLINK_HOME = "/opt/flink";

/** The module flags Flink's shipped config.yaml puts in env.java.opts.all for Java 17. */
export const JAVA17_MODULE_OPTIONS = [
  "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
  "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
  "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
  ...[
    "java.lang",
    "java.net",
    "java.io",
    "java.nio",
    "sun.nio.ch",
    "java.lang.reflect",
    "java.text",
    "java.time",
    "java.util",
    "java.util.concurrent",
    "java.util.concurrent.atomic",
    "java.util.concurrent.locks",
  ].map((p) => `--add-opens=java.base/${p}=ALL-UNNAMED`),
];

/** JVM flags for a frugal local process: fast start on 2 cores, small footprint. */
export const LOCAL_JVM_OPTIONS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"];

export interface FlinkCommandInput {
  /** The container's command + args (command defaults to the image entrypoint). */
  argv: string[];
  /** The container's environment as the kubelet built it. */
  env: Record<string, string>;
  /** config.yaml from the pod's conf mount, flattened; {} when the pod mounts none. */
  config: FlinkConfig;
  podIP: string;
  /** The pod's namespace: a bare Service name resolves in it, as through cluster DNS's search path. */
  namespace: string;
  hostsFile: string;
  /** resources.limits.memory in bytes, if the container has one. */
  memoryLimitBytes?: number;
  /** The Flink home whose lib/ is the classpath and whose usrlib/ holds the job jars. */
  flinkHome: string;
  /** The pod's generated conf dir (config.yaml is written there from the result). */
  confDir: string;
  /** The pod's scratch dir (java.io.tmpdir, io.tmp.dirs). */
  tmpDir: string;
  paths: PathMapping;
  /** The java binary; default "java". */
  java?: string;
  /** Appended after the handler's own JVM flags; default LOCAL_JVM_OPTIONS. */
  localJvmOptions?: string[];
}

export interface FlinkCommand {
  role: FlinkRole;
  mainClass: string;
  command: string;
  args: string[];
  /** Environment additions (FLINK_HOME, FLINK_CONF_DIR, …) on top of the container env. */
  env: Record<string, string>;
  /** The effective configuration to write as `<confDir>/config.yaml`. */
  config: FlinkConfig;
  processMiB: number;
}

const ENTRYPOINTS = new Set([
  "/docker-entrypoint.sh",
  "docker-entrypoint.sh",
  "/opt/flink/docker-entrypoint.sh",
]);

/** Splits argv into the entrypoint role and the role's arguments, as docker-entrypoint.sh does. */
export function entrypointRole(argv: string[]): { role: FlinkRole; args: string[] } {
  const a = ENTRYPOINTS.has(argv[0] ?? "") ? argv.slice(1) : argv;
  const role = a[0];
  if (role === "jobmanager" || role === "standalone-job" || role === "taskmanager") {
    return { role, args: a.slice(1) };
  }
  throw new Error(
    `Flink container argv ${JSON.stringify(argv)} is not supported by the local Flink image: ` +
      "use args jobmanager, standalone-job --job-classname <class> … or taskmanager",
  );
}

/** Maps savepoint paths and file: URIs among entrypoint/program arguments to local paths. */
export function mapArguments(args: string[], paths: PathMapping): string[] {
  const savepoint = (p: string) =>
    paths.exists?.(p.replace(/^file:(\/\/)?/, "")) ? p : mapContainerPath(p, paths);
  return args.map((a, i) => {
    const prev = args[i - 1];
    if (prev === "--fromSavepoint" || prev === "-s") return savepoint(a);
    if (a.startsWith("--fromSavepoint=")) return `--fromSavepoint=${savepoint(a.slice(16))}`;
    const eq = /^(-D[^=]+=)(file:.*)$/.exec(a);
    if (eq) return eq[1]! + mapContainerPath(eq[2]!, paths);
    return a.startsWith("file:") ? mapContainerPath(a, paths) : a;
  });
}

/**
 * A bare name (`flink-jm`) as cluster DNS resolves it for a pod in `namespace`: `flink-jm.<ns>.svc`.
 * A JVM reads the simulator's hosts file with no search path, where bare Service names of all
 * namespaces share one entry; qualified, two deployments with the same names never cross.
 */
export function qualifyHost(host: string, namespace: string): string {
  return host.includes(".") || host.includes(":") || host === "localhost" ? host : `${host}.${namespace}.svc`;
}

const split = (s: string | undefined) => (s ?? "").split(/\s+/).filter(Boolean);

/** The effective configuration: config.yaml < entrypoint env < local overrides. */
export function effectiveConfig(
  input: FlinkCommandInput,
  role: FlinkRole,
  flinkProperties: FlinkConfig,
): { config: FlinkConfig; memoryJvm: string[]; processMiB: number } {
  const c: FlinkConfig = { ...input.config };
  const env = input.env;
  const rpcAddress = env.JOB_MANAGER_RPC_ADDRESS || c["jobmanager.rpc.address"];
  c["jobmanager.rpc.address"] = rpcAddress ? qualifyHost(rpcAddress, input.namespace) : input.podIP;
  if (c["rest.address"]) c["rest.address"] = qualifyHost(c["rest.address"], input.namespace);
  c["blob.server.port"] = "6124";
  if (env.TASK_MANAGER_NUMBER_OF_TASK_SLOTS) {
    c["taskmanager.numberOfTaskSlots"] = env.TASK_MANAGER_NUMBER_OF_TASK_SLOTS;
  }
  Object.assign(c, flinkProperties);

  const isJm = role !== "taskmanager";
  if (isJm) {
    c["jobmanager.bind-host"] = input.podIP;
    c["rest.bind-address"] = input.podIP;
    c["rest.address"] ??= c["jobmanager.rpc.address"]!;
  } else {
    c["taskmanager.bind-host"] = input.podIP;
    c["taskmanager.host"] = input.podIP;
  }
  c["io.tmp.dirs"] = input.tmpDir;
  for (const key of PATH_OPTIONS) {
    if (c[key]) c[key] = mapContainerPath(c[key], input.paths);
  }
  // Flink 2 reads the savepoint/checkpoint dirs under their execution.checkpointing.* names.
  const legacy = {
    "state.savepoints.dir": "execution.checkpointing.savepoint-dir",
    "state.checkpoints.dir": "execution.checkpointing.dir",
  };
  for (const [old, current] of Object.entries(legacy)) if (c[old] && !c[current]) c[current] = c[old];

  const prefix = isJm ? "jobmanager.memory." : "taskmanager.memory.";
  const configured = c[`${prefix}process.size`];
  const requested = input.memoryLimitBytes ?? (configured ? parseFlinkMemorySize(configured) : undefined);
  const mem = isJm
    ? jobManagerMemory(processSizeMiB(requested, JOBMANAGER_PROCESS_MIB))
    : taskManagerMemory(processSizeMiB(requested, TASKMANAGER_PROCESS_MIB));
  for (const k of Object.keys(c)) if (k.startsWith(prefix)) delete c[k];
  Object.assign(c, mem.config);
  // TaskManagerRunner wants the CPU share taskmanager.sh derives: configured, else one per slot.
  if (!isJm) c["taskmanager.cpu.cores"] ??= c["taskmanager.numberOfTaskSlots"] ?? "1";
  return { config: c, memoryJvm: mem.jvmOptions, processMiB: mem.processMiB };
}

/** Container argv + env + config -> the JVM command line (pure; the handler does the file work). */
export function flinkCommand(input: FlinkCommandInput): FlinkCommand {
  const { role, args } = entrypointRole(input.argv);
  const props = parseFlinkProperties(input.env.FLINK_PROPERTIES, input.env);
  const { config, memoryJvm, processMiB } = effectiveConfig(input, role, props);
  const isJm = role !== "taskmanager";
  const log4j = posix.join(input.confDir, "log4j-console.properties");
  const jvm = [
    ...memoryJvm,
    ...JAVA17_MODULE_OPTIONS,
    ...split(config["env.java.default-opts.all"]),
    ...split(config["env.java.opts.all"] ?? config["env.java.opts"]),
    ...split(config[isJm ? "env.java.opts.jobmanager" : "env.java.opts.taskmanager"]),
    ...(input.localJvmOptions ?? LOCAL_JVM_OPTIONS),
    `-Djdk.net.hosts.file=${input.hostsFile}`,
    // Pods come and go with new IPs: never cache a lookup for long, and retry failed ones soon.
    "-Dsun.net.inetaddr.ttl=5",
    "-Dsun.net.inetaddr.negative.ttl=1",
    `-Djava.io.tmpdir=${input.tmpDir}`,
    `-Dlog4j.configuration=file:${log4j}`,
    `-Dlog4j.configurationFile=file:${log4j}`,
  ];
  const mainClass = MAIN_CLASSES[role];
  return {
    role,
    mainClass,
    command: input.java ?? "java",
    args: [
      ...jvm,
      "-classpath",
      posix.join(input.flinkHome, "lib", "*"),
      mainClass,
      "--configDir",
      input.confDir,
      ...mapArguments(args, input.paths),
    ],
    env: {
      FLINK_HOME: input.flinkHome,
      FLINK_CONF_DIR: input.confDir,
      FLINK_LIB_DIR: posix.join(input.flinkHome, "lib"),
      FLINK_PLUGINS_DIR: posix.join(input.flinkHome, "plugins"),
      FLINK_BIN_DIR: posix.join(input.flinkHome, "bin"),
      FLINK_OPT_DIR: posix.join(input.flinkHome, "opt"),
    },
    config,
    processMiB,
  };
}
