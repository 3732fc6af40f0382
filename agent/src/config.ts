// The agent's configuration: one table of settings (flag, environment variable, default), one zod
// schema that validates the lot, read once at start. Precedence: flag, then environment, then default.
// The policy file's contents are part of the same schema (key `policy`, source "file"). A bad value
// stops the process with a message naming the setting, where its value came from and what was expected.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { policySchema } from "./policy.ts";
import { DEFAULT_WORKSPACE_AGENT_IMAGE } from "./version.ts";

export type Source = "flag" | "env" | "default" | "file";

export interface SettingDef {
  key: string;
  /** Long flag without dashes, e.g. `control-plane-url`. */
  flag: string;
  env?: string;
  /** A conventional variable read when `env` is unset (e.g. KUBECONFIG, as kubectl does). */
  envAlias?: string;
  /** Placeholder in --help, e.g. `<url>`. */
  valueName: string;
  description: string;
  /** What a valid value looks like, for error messages and docs. */
  expected: string;
  default?: () => string | undefined;
  /** Shown in docs instead of the computed default. */
  defaultDoc?: string;
}

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export const SETTINGS: readonly SettingDef[] = [
  {
    key: "controlPlaneUrl",
    flag: "control-plane-url",
    env: "MERIDIAN_CONTROL_PLANE_URL",
    valueName: "<url>",
    description: "Base URL of the control plane; the agent dials <url>/v1/agents/<id>/stream.",
    expected: "an http(s) URL such as https://cp.example.com (required)",
  },
  {
    key: "agentId",
    flag: "agent-id",
    env: "MERIDIAN_AGENT_ID",
    valueName: "<id>",
    description: "This cluster's agent id, issued by the control plane.",
    expected: "a non-empty id (required)",
  },
  {
    key: "tokenFile",
    flag: "token-file",
    env: "MERIDIAN_TOKEN_FILE",
    valueName: "<path>",
    description: "File holding the agent's bearer token; re-read when it changes.",
    expected: "the path of a readable, non-empty file (required)",
  },
  {
    key: "caFile",
    flag: "ca-file",
    env: "MERIDIAN_CA_FILE",
    valueName: "<path>",
    description:
      "PEM bundle trusted (besides the system roots) for the control plane; passed on to the workspace agents.",
    expected: "the path of a readable PEM file",
  },
  {
    key: "kubeconfig",
    flag: "kubeconfig",
    env: "MERIDIAN_KUBECONFIG",
    envAlias: "KUBECONFIG",
    valueName: "<path>",
    description:
      "Kubeconfig to use (MERIDIAN_KUBECONFIG, else KUBECONFIG); unset means the pod's in-cluster ServiceAccount.",
    expected: "the path of a kubeconfig file",
  },
  {
    key: "namespace",
    flag: "namespace",
    env: "MERIDIAN_NAMESPACE",
    valueName: "<ns>",
    description: "The agent's own namespace (holds the leader-election Lease).",
    expected: "a namespace name",
    default: () => readTrimmed(SA_NAMESPACE_FILE) ?? "meridian-system",
    defaultDoc: "the pod's namespace, else meridian-system",
  },
  {
    key: "podName",
    flag: "pod-name",
    env: "MERIDIAN_POD_NAME",
    valueName: "<name>",
    description: "The agent's pod name (Event reportingInstance, part of the identity).",
    expected: "a non-empty name",
    default: () => hostname(),
    defaultDoc: "the host name",
  },
  {
    key: "identity",
    flag: "identity",
    env: "MERIDIAN_IDENTITY",
    valueName: "<id>",
    description: "Leader-election identity; unique per process.",
    expected: "a non-empty string",
    defaultDoc: "<pod name>_<random>",
  },
  {
    key: "workspaceAgentImage",
    flag: "workspace-agent-image",
    env: "MERIDIAN_WORKSPACE_AGENT_IMAGE",
    valueName: "<image>",
    description: "Image of the workspace agents (a workspace spec may override it if the policy allows).",
    expected: "an image reference",
    default: () => DEFAULT_WORKSPACE_AGENT_IMAGE,
  },
  {
    key: "workspaceAgentPullPolicy",
    flag: "workspace-agent-pull-policy",
    env: "MERIDIAN_WORKSPACE_AGENT_PULL_POLICY",
    valueName: "<policy>",
    description: "imagePullPolicy of the workspace agent container.",
    expected: "Always, IfNotPresent or Never",
    default: () => "IfNotPresent",
  },
  {
    key: "workspaceAgentPullSecrets",
    flag: "workspace-agent-pull-secrets",
    env: "MERIDIAN_WORKSPACE_AGENT_PULL_SECRETS",
    valueName: "<names>",
    description:
      "Comma-separated imagePullSecrets referenced by the workspace agent pods (they must exist in each workspace namespace).",
    expected: "comma-separated Secret names",
    default: () => "",
  },
  {
    key: "leaderElection",
    flag: "leader-election",
    env: "MERIDIAN_LEADER_ELECTION",
    valueName: "<bool>",
    description: "Elect one active replica through a Lease.",
    expected: "true or false",
    default: () => "true",
  },
  {
    key: "leaseName",
    flag: "lease-name",
    env: "MERIDIAN_LEASE_NAME",
    valueName: "<name>",
    description: "Name of the leader-election Lease in the agent's namespace.",
    expected: "a DNS name",
    default: () => "meridian-agent",
  },
  {
    key: "leaseDurationMs",
    flag: "lease-duration-ms",
    env: "MERIDIAN_LEASE_DURATION_MS",
    valueName: "<ms>",
    description: "A standby takes over when the leader has not renewed for this long.",
    expected: "a duration of at least 1000 ms (e.g. 15000 or 15s)",
    default: () => "15000",
  },
  {
    key: "renewDeadlineMs",
    flag: "renew-deadline-ms",
    env: "MERIDIAN_RENEW_DEADLINE_MS",
    valueName: "<ms>",
    description:
      "The leader gives up when no renewal succeeded for this long; shorter than the lease duration.",
    expected: "a duration shorter than the lease duration (e.g. 10000 or 10s)",
    default: () => "10000",
  },
  {
    key: "retryPeriodMs",
    flag: "retry-period-ms",
    env: "MERIDIAN_RETRY_PERIOD_MS",
    valueName: "<ms>",
    description:
      "How often candidates try to acquire and the leader renews; shorter than the renew deadline.",
    expected: "a duration shorter than the renew deadline (e.g. 2000 or 2s)",
    default: () => "2000",
  },
  {
    key: "policyFile",
    flag: "policy-file",
    env: "MERIDIAN_POLICY_FILE",
    valueName: "<path>",
    description: "Local policy YAML (docs/policy.md); unset means the default policy.",
    expected: "the path of a readable YAML file",
  },
  {
    key: "logLevel",
    flag: "log-level",
    env: "MERIDIAN_LOG_LEVEL",
    valueName: "<level>",
    description: "Log level; passed on to the workspace agents unless a workspace sets its own.",
    expected: "trace, debug, info, warn, error, fatal or silent",
    default: () => "info",
  },
  {
    key: "healthAddr",
    flag: "health-addr",
    env: "MERIDIAN_HEALTH_ADDR",
    valueName: "<host:port>",
    description: "Address of /healthz, /readyz and /metrics.",
    expected: "host:port such as 0.0.0.0:8080",
    default: () => "0.0.0.0:8080",
  },
  {
    key: "resyncPeriodMs",
    flag: "resync-period-ms",
    env: "MERIDIAN_RESYNC_PERIOD_MS",
    valueName: "<ms>",
    description: "Every workspace is re-compared with the cluster this often (writes only on a difference).",
    expected: "a duration of at least 1000 ms",
    default: () => "300000",
  },
  {
    key: "kubeConcurrency",
    flag: "kube-concurrency",
    env: "MERIDIAN_KUBE_CONCURRENCY",
    valueName: "<n>",
    description: "Most Kubernetes API requests in flight at once (watches excluded).",
    expected: "an integer from 1 to 256",
    default: () => "10",
  },
  {
    key: "workspaceConcurrency",
    flag: "workspace-concurrency",
    env: "MERIDIAN_WORKSPACE_CONCURRENCY",
    valueName: "<n>",
    description: "Most workspaces reconciled at once (each workspace is serialized).",
    expected: "an integer from 1 to 256",
    default: () => "16",
  },
  {
    key: "statusHeartbeatMs",
    flag: "status-heartbeat-ms",
    env: "MERIDIAN_STATUS_HEARTBEAT_MS",
    valueName: "<ms>",
    description: "Status is re-sent this often when nothing changed.",
    expected: "a duration of at least 100 ms",
    default: () => "10000",
  },
  {
    key: "savepointBaseDir",
    flag: "savepoint-base-dir",
    env: "MERIDIAN_SAVEPOINT_BASE_DIR",
    valueName: "<uri>",
    description: "Default savepoint directory, passed to the workspace agents.",
    expected: "a Flink file system URI such as s3://bucket/savepoints",
  },
  {
    key: "httpsProxy",
    flag: "https-proxy",
    env: "HTTPS_PROXY",
    valueName: "<url>",
    description: "Proxy for the control-plane connection; passed on to the workspace agents.",
    expected: "a proxy URL such as http://proxy:3128",
  },
  {
    key: "noProxy",
    flag: "proxy-bypass",
    env: "NO_PROXY",
    valueName: "<hosts>",
    description: "Hosts that bypass the proxy; passed on to the workspace agents.",
    expected: "comma-separated hosts, domains and CIDRs",
  },
];

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

const text = z.string().trim().min(1, "must not be empty");
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));
const duration = (minMs: number) =>
  z.string().transform((raw, ctx) => {
    const ms = parseDurationMs(raw);
    if (ms === undefined || ms < minMs) {
      ctx.addIssue({ code: "custom", message: `"${raw}" is not a duration of at least ${minMs} ms` });
      return z.NEVER;
    }
    return ms;
  });
const integer = (min: number, max: number) =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw.trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `"${raw}" is not an integer from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

export const configSchema = z
  .object({
    controlPlaneUrl: z
      .string({ error: "is required" })
      .trim()
      .refine((v) => /^https?:\/\/[^/]+/.test(v) && URL.canParse(v), "must be an http(s) URL")
      .transform((v) => v.replace(/\/+$/, "")),
    agentId: z.string({ error: "is required" }).trim().min(1, "must not be empty"),
    tokenFile: z.string({ error: "is required" }).trim().min(1, "must not be empty"),
    caFile: optionalText,
    kubeconfig: optionalText,
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a namespace name")
      .max(63),
    podName: text,
    identity: text,
    workspaceAgentImage: text,
    workspaceAgentPullPolicy: z.enum(["Always", "IfNotPresent", "Never"]),
    workspaceAgentPullSecrets: z.string().transform((v) =>
      v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
    leaderElection: z.string().transform((v, ctx) => {
      const s = v.trim().toLowerCase();
      if (["true", "1", "yes"].includes(s)) return true;
      if (["false", "0", "no"].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: `"${v}" is not true or false` });
      return z.NEVER;
    }),
    leaseName: z.string().regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, "must be a DNS name"),
    leaseDurationMs: duration(1000),
    renewDeadlineMs: duration(100),
    retryPeriodMs: duration(50),
    policyFile: optionalText,
    logLevel: z.enum(LOG_LEVELS),
    healthAddr: z.string().regex(/^.*:\d{1,5}$/, "must be host:port"),
    resyncPeriodMs: duration(1000),
    kubeConcurrency: integer(1, 256),
    workspaceConcurrency: integer(1, 256),
    statusHeartbeatMs: duration(100),
    savepointBaseDir: optionalText,
    httpsProxy: optionalText,
    noProxy: optionalText,
    policy: policySchema,
  })
  .superRefine((c, ctx) => {
    if (!(c.renewDeadlineMs < c.leaseDurationMs))
      ctx.addIssue({
        code: "custom",
        path: ["renewDeadlineMs"],
        message: `${c.renewDeadlineMs} ms is not shorter than the lease duration ${c.leaseDurationMs} ms`,
      });
    if (!(c.retryPeriodMs < c.renewDeadlineMs))
      ctx.addIssue({
        code: "custom",
        path: ["retryPeriodMs"],
        message: `${c.retryPeriodMs} ms is not shorter than the renew deadline ${c.renewDeadlineMs} ms`,
      });
  });

export type AgentConfig = z.output<typeof configSchema> & {
  /** Contents of caFile, read at start (passed to workspace agents in a ConfigMap). */
  caPem: string | undefined;
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface ConfigInput {
  /** Parsed flags by setting key (commander's camelCase names). */
  flags: Record<string, string | undefined>;
  env: Record<string, string | undefined>;
  readFile?: (path: string) => string;
}

/** Reads every setting from its source, validates them together, and reads the files they name. */
export function loadConfig(input: ConfigInput): AgentConfig {
  const read = input.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const raw: Record<string, unknown> = {};
  const origin = new Map<string, { source: Source; value: string | undefined }>();
  for (const s of SETTINGS) {
    const fromFlag = input.flags[s.key];
    const fromEnv = s.env ? input.env[s.env] || (s.envAlias ? input.env[s.envAlias] : undefined) : undefined;
    const [source, value] =
      fromFlag !== undefined
        ? (["flag", fromFlag] as const)
        : fromEnv !== undefined && fromEnv !== ""
          ? (["env", fromEnv] as const)
          : (["default", s.key === "identity" ? undefined : s.default?.()] as const);
    raw[s.key] = value;
    origin.set(s.key, { source, value });
  }
  if (raw.identity === undefined)
    raw.identity = `${raw.podName ?? hostname()}_${randomBytes(3).toString("hex")}`;
  const problems: string[] = [];
  raw.policy = {};
  const policyFile =
    typeof raw.policyFile === "string" && raw.policyFile.trim() ? raw.policyFile.trim() : undefined;
  if (policyFile) {
    try {
      raw.policy = parseYaml(read(policyFile)) ?? {};
    } catch (err) {
      problems.push(
        `${describeSetting("policyFile", origin)}: cannot read or parse ${policyFile}: ${(err as Error).message}`,
      );
    }
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? "");
      if (key === "policy") {
        const field = issue.path.slice(1).join(".") || "(root)";
        const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
        problems.push(
          `policy file ${policyFile ?? "(none)"} (from file): ${field}: ${issue.message}${keys}; see docs/policy.md`,
        );
      } else
        problems.push(
          `${describeSetting(key, origin)}: ${issue.message}; expected ${settingOf(key)?.expected ?? "a valid value"}`,
        );
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const config: AgentConfig = { ...parsed.data, caPem: undefined };
  const tokenCheck = tryRead(read, config.tokenFile);
  if (tokenCheck.error)
    problems.push(
      `${describeSetting("tokenFile", origin)}: ${tokenCheck.error}; expected ${settingOf("tokenFile")?.expected}`,
    );
  else if (!tokenCheck.text?.trim())
    problems.push(
      `${describeSetting("tokenFile", origin)}: the file is empty; put the agent's bearer token in it`,
    );
  if (config.caFile) {
    const ca = tryRead(read, config.caFile);
    if (ca.error || !ca.text?.includes("BEGIN CERTIFICATE"))
      problems.push(
        `${describeSetting("caFile", origin)}: ${ca.error ?? "no PEM certificate in the file"}; expected ${settingOf("caFile")?.expected}`,
      );
    else config.caPem = ca.text;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** `1500`, `1500ms`, `15s`, `2m`, `1h` → milliseconds; undefined when unreadable. */
export function parseDurationMs(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"] ?? 1;
  return Math.round(n * unit);
}

function settingOf(key: string): SettingDef | undefined {
  return SETTINGS.find((s) => s.key === key);
}

/** `--lease-duration-ms / MERIDIAN_LEASE_DURATION_MS (from env: "abc")`. */
function describeSetting(
  key: string,
  origin: Map<string, { source: Source; value: string | undefined }>,
): string {
  const s = settingOf(key);
  const o = origin.get(key);
  const names = s ? `--${s.flag}${s.env ? ` / ${s.env}` : ""}` : key;
  const value = o?.value === undefined ? "not set" : JSON.stringify(o.value);
  return `setting ${names} (from ${o?.source ?? "default"}: ${value})`;
}

function tryRead(read: (p: string) => string, path: string): { text?: string; error?: string } {
  try {
    return { text: read(path) };
  } catch (err) {
    return {
      error: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    };
  }
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
