// The workspace agent's configuration: one table of settings, read once at start from flags, then the
// environment the agent's Deployment sets, then defaults. A bad value fails fast with a message that
// names the setting, where it came from and what was expected. Nothing else reads process.env.
import { hostname } from "node:os";
import { type ProxySettings, proxySettingsFromEnv } from "@meridian/shared/controlplane/http";
import type { LogLevel } from "@meridian/shared/log";

export interface WorkspaceAgentConfig {
  controlPlaneUrl: string;
  workspaceId: string;
  namespace: string;
  podName: string;
  /** `host:port` of /healthz, /readyz, /metrics. */
  healthAddr: string;
  credentialSecret: string;
  logLevel: LogLevel;
  caFile: string | undefined;
  proxy: ProxySettings;
  /** Registries (or registry/repository prefixes) Flink images may come from; empty = unrestricted. */
  flinkAllowedRegistries: string[];
  /** Default savepoint directory when a spec sets none; `<base>/<deployment>` is used. */
  savepointBaseDir: string | undefined;
  /** Path of a kubeconfig; undefined = in-cluster ServiceAccount. */
  kubeconfig: string | undefined;
  flinkPollIntervalMs: number;
  flinkRequestTimeoutMs: number;
  /** How often status is re-sent even when nothing changed (level-based heartbeat). */
  statusIntervalMs: number;
  /** Bound on concurrent requests to the Kubernetes API server. */
  kubeConcurrency: number;
  /** A deployment the control plane's snapshots stopped listing is deleted after this long. */
  orphanGracePeriodSeconds: number;
}

type Parser<T> = (raw: string) => T;
interface Setting<K extends keyof WorkspaceAgentConfig> {
  key: K;
  flag: string;
  env?: string;
  /** What a valid value looks like, for the error message. */
  expected: string;
  parse: Parser<WorkspaceAgentConfig[K]>;
  default?: () => WorkspaceAgentConfig[K];
}

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

const str: Parser<string> = (raw) => {
  if (raw.trim() === "") throw new Error("empty");
  return raw.trim();
};
const url: Parser<string> = (raw) => {
  const u = new URL(raw.trim());
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("not http(s)");
  return u.toString().replace(/\/$/, "");
};
const dnsLabel: Parser<string> = (raw) => {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(raw) || raw.length > 63) throw new Error("not a DNS label");
  return raw;
};
const hostPort: Parser<string> = (raw) => {
  const m = /^(.*):(\d{1,5})$/.exec(raw.trim());
  if (!m || Number(m[2]) > 65535) throw new Error("not host:port");
  return raw.trim();
};
const posInt =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error("out of range");
    return n;
  };
const list: Parser<string[]> = (raw) =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const settings = [
  s({
    key: "controlPlaneUrl",
    flag: "control-plane-url",
    env: "MERIDIAN_CONTROL_PLANE_URL",
    expected: "an http(s) URL such as https://cp.example.com",
    parse: url,
  }),
  s({
    key: "workspaceId",
    flag: "workspace-id",
    env: "MERIDIAN_WORKSPACE_ID",
    expected: "a workspace id (lowercase letters, digits, '-')",
    parse: dnsLabel,
  }),
  s({
    key: "namespace",
    flag: "namespace",
    env: "MERIDIAN_NAMESPACE",
    expected: "the workspace namespace (a DNS label)",
    parse: dnsLabel,
  }),
  s({
    key: "podName",
    flag: "pod-name",
    env: "MERIDIAN_POD_NAME",
    expected: "a pod name",
    parse: str,
    default: () => hostname(),
  }),
  s({
    key: "healthAddr",
    flag: "health-addr",
    env: "MERIDIAN_HEALTH_ADDR",
    expected: "host:port such as 0.0.0.0:8080",
    parse: hostPort,
    default: () => "0.0.0.0:8080",
  }),
  s({
    key: "credentialSecret",
    flag: "credential-secret",
    env: "MERIDIAN_CREDENTIAL_SECRET",
    expected: "the name of the Secret holding the workspace credential",
    parse: dnsLabel,
    default: () => "meridian-workspace-credential",
  }),
  s({
    key: "logLevel",
    flag: "log-level",
    env: "MERIDIAN_LOG_LEVEL",
    expected: `one of ${LOG_LEVELS.join(", ")}`,
    parse: (raw) => {
      const v = raw.trim().toLowerCase() as LogLevel;
      if (!LOG_LEVELS.includes(v)) throw new Error("unknown level");
      return v;
    },
    default: () => "info",
  }),
  s({ key: "caFile", flag: "ca-file", env: "MERIDIAN_CA_FILE", expected: "a PEM file path", parse: str }),
  s({
    key: "flinkAllowedRegistries",
    flag: "flink-allowed-registries",
    env: "MERIDIAN_FLINK_ALLOWED_REGISTRIES",
    expected: "a comma-separated list of registries such as docker.io,registry.example.com/flink",
    parse: list,
    default: () => [],
  }),
  s({
    key: "savepointBaseDir",
    flag: "savepoint-base-dir",
    env: "MERIDIAN_SAVEPOINT_BASE_DIR",
    expected: "a Flink file system URI such as s3://bucket/savepoints or file:///flink-data/savepoints",
    parse: (raw) => {
      const v = str(raw).replace(/\/+$/, "");
      if (!/^[a-z][a-z0-9+.-]*:\/\//.test(v)) throw new Error("no scheme");
      return v;
    },
  }),
  s({ key: "kubeconfig", flag: "kubeconfig", env: "KUBECONFIG", expected: "a kubeconfig path", parse: str }),
  s({
    key: "flinkPollIntervalMs",
    flag: "flink-poll-interval-ms",
    env: "MERIDIAN_FLINK_POLL_INTERVAL_MS",
    expected: "an integer number of milliseconds between 100 and 600000",
    parse: posInt(100, 600_000),
    default: () => 2000,
  }),
  s({
    key: "flinkRequestTimeoutMs",
    flag: "flink-request-timeout-ms",
    env: "MERIDIAN_FLINK_REQUEST_TIMEOUT_MS",
    expected: "an integer number of milliseconds between 100 and 120000",
    parse: posInt(100, 120_000),
    default: () => 5000,
  }),
  s({
    key: "statusIntervalMs",
    flag: "status-interval-ms",
    env: "MERIDIAN_STATUS_INTERVAL_MS",
    expected: "an integer number of milliseconds between 100 and 3600000",
    parse: posInt(100, 3_600_000),
    default: () => 15_000,
  }),
  s({
    key: "kubeConcurrency",
    flag: "kube-concurrency",
    env: "MERIDIAN_KUBE_CONCURRENCY",
    expected: "an integer between 1 and 100",
    parse: posInt(1, 100),
    default: () => 8,
  }),
  s({
    key: "orphanGracePeriodSeconds",
    flag: "orphan-grace-period-seconds",
    env: "MERIDIAN_ORPHAN_GRACE_PERIOD_SECONDS",
    expected: "an integer number of seconds between 0 and 31536000 (the local policy's default is 86400)",
    parse: posInt(0, 31_536_000),
    default: () => 86_400,
  }),
];

function s<K extends keyof WorkspaceAgentConfig>(def: Setting<K>): Setting<K> {
  return def;
}

/** Every setting with its flag and env name, for the CLI's options and help. */
export const SETTINGS: ReadonlyArray<{ key: string; flag: string; env?: string; expected: string }> =
  settings;

/** Flag values as commander gives them: camelCased keys, strings. */
export type FlagValues = Record<string, string | undefined>;

/**
 * Builds the config from flags (win), then env, then defaults. Throws one Error listing every bad or
 * missing setting, each with its source and what was expected.
 */
export function loadConfig(flags: FlagValues, env: Record<string, string | undefined>): WorkspaceAgentConfig {
  const out: Record<string, unknown> = { proxy: proxySettingsFromEnv(env) };
  const problems: string[] = [];
  for (const def of settings) {
    const flagKey = camel(def.flag);
    const fromFlag = flags[flagKey];
    const fromEnv = def.env ? env[def.env] : undefined;
    const [raw, source] =
      fromFlag !== undefined
        ? [fromFlag, `flag --${def.flag}`]
        : fromEnv !== undefined && fromEnv !== ""
          ? [fromEnv, `env ${def.env}`]
          : [undefined, ""];
    if (raw === undefined) {
      if (def.default) out[def.key] = def.default();
      else if (!OPTIONAL.has(def.key))
        problems.push(
          `${def.key} is missing: set flag --${def.flag}${def.env ? ` or env ${def.env}` : ""} to ${def.expected}`,
        );
      continue;
    }
    try {
      out[def.key] = def.parse(raw);
    } catch {
      problems.push(`${def.key} from ${source} is ${JSON.stringify(raw)}: expected ${def.expected}`);
    }
  }
  if (problems.length > 0)
    throw new Error(`invalid workspace agent configuration:\n  - ${problems.join("\n  - ")}`);
  return out as unknown as WorkspaceAgentConfig;
}

const OPTIONAL = new Set<keyof WorkspaceAgentConfig>(["caFile", "savepointBaseDir", "kubeconfig"]);

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** The config as safe to log: no credentials live in it, but proxy URLs may carry userinfo. */
export function describeConfig(c: WorkspaceAgentConfig): Record<string, unknown> {
  const strip = (u: string | undefined) => u?.replace(/\/\/[^@/]*@/, "//[REDACTED]@");
  return {
    ...c,
    proxy: { ...c.proxy, httpsProxy: strip(c.proxy.httpsProxy), httpProxy: strip(c.proxy.httpProxy) },
  };
}
