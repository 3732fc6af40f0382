// The agent's configuration: its settings table (flag, environment variable, default, schema), read
// once at start by the shared settings loader (@meridian/shared/process/settings: flag, then
// environment, then default). The policy file's contents are validated at the same time (source
// "file"). A bad value stops the process with a message naming the setting, where its value came
// from and what was expected.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import {
  bool,
  dnsLabel,
  duration,
  fileSystemUri,
  hostPort,
  httpUrl,
  integer,
  LOG_LEVELS_EXPECTED,
  list,
  logLevel,
  optionalText,
  signingPublicKeys,
  text,
} from "@meridian/shared/process/setting-schemas";
import {
  type SettingsInput,
  SettingsLoad,
  type SettingsOf,
  settingsTable,
} from "@meridian/shared/process/settings";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { type Policy, policySchema } from "./policy.ts";
import { DEFAULT_WORKSPACE_AGENT_IMAGE } from "./version.ts";
import { workspaceEgressSetting } from "./workspace/egress.ts";
import { workspaceAgentSecurityContextSetting } from "./workspace/security-context.ts";

export { parseDurationMs } from "@meridian/shared/process/setting-schemas";
export { ConfigError } from "@meridian/shared/process/settings";

/** A Kubernetes object name (DNS subdomain). */
const dnsName = z.string().regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, "must be a DNS name");

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export const AGENT_SETTINGS = settingsTable({
  controlPlaneUrl: {
    flag: "control-plane-url",
    env: "MERIDIAN_CONTROL_PLANE_URL",
    valueName: "<url>",
    description: "Base URL of the control plane; the agent dials <url>/v1/agents/<id>/stream.",
    expected: "an http(s) URL such as https://cp.example.com (required)",
    schema: httpUrl,
  },
  agentId: {
    flag: "agent-id",
    env: "MERIDIAN_AGENT_ID",
    valueName: "<id>",
    description: "This cluster's agent id, issued by the control plane.",
    expected: "a non-empty id (required)",
    schema: text,
  },
  tokenFile: {
    flag: "token-file",
    env: "MERIDIAN_TOKEN_FILE",
    valueName: "<path>",
    description:
      "File holding the agent's one-time install token (or a deprecated long-lived token); re-read when it changes.",
    expected: "the path of a readable, non-empty file (required)",
    schema: text,
  },
  credentialSecret: {
    flag: "credential-secret",
    env: "MERIDIAN_AGENT_CREDENTIAL_SECRET",
    valueName: "<name>",
    description:
      "Secret in the agent's namespace where it keeps the short-lived credential it gets for its install token and renews; unset: the token file's token is sent as it is (a long-lived token).",
    expected: "a Secret name",
    schema: optionalText,
  },
  caFile: {
    flag: "ca-file",
    env: "MERIDIAN_CA_FILE",
    valueName: "<path>",
    description:
      "PEM bundle trusted (besides the system roots) for the control plane; passed on to the workspace agents.",
    expected: "the path of a readable PEM file",
    schema: optionalText,
  },
  signingPublicKeys: {
    flag: "signing-public-keys",
    env: "MERIDIAN_SIGNING_PUBLIC_KEYS",
    valueName: "<keys>",
    description:
      "The control plane's Ed25519 public keys (two during a rotation): when set, every desired-state event must be signed by one of them, or it is refused; passed on to the workspace agents.",
    expected: "comma-separated Ed25519 public keys, each PEM or the base64 of its 32 raw bytes",
    schema: signingPublicKeys,
    defaultDoc: "none: events are not verified",
  },
  kubeconfig: {
    flag: "kubeconfig",
    env: "MERIDIAN_KUBECONFIG",
    envAlias: "KUBECONFIG",
    valueName: "<path>",
    description: "Kubeconfig to use; unset means the pod's in-cluster ServiceAccount.",
    expected: "the path of a kubeconfig file",
    schema: optionalText,
  },
  namespace: {
    flag: "namespace",
    env: "MERIDIAN_NAMESPACE",
    valueName: "<ns>",
    description: "The agent's own namespace (holds the leader-election Lease).",
    expected: "a namespace name",
    schema: dnsLabel,
    default: () => readTrimmed(SA_NAMESPACE_FILE) ?? "meridian-system",
    defaultDoc: "the pod's namespace, else meridian-system",
  },
  podName: {
    flag: "pod-name",
    env: "MERIDIAN_POD_NAME",
    valueName: "<name>",
    description: "The agent's pod name (Event reportingInstance, part of the identity).",
    expected: "a non-empty name",
    schema: text,
    default: () => hostname(),
    defaultDoc: "the host name",
  },
  identity: {
    flag: "identity",
    env: "MERIDIAN_IDENTITY",
    valueName: "<id>",
    description: "Leader-election identity; unique per process.",
    expected: "a non-empty string",
    schema: text,
    default: (earlier) => `${earlier.podName ?? hostname()}_${randomBytes(3).toString("hex")}`,
    defaultDoc: "<pod name>_<random>",
  },
  workspaceAgentImage: {
    flag: "workspace-agent-image",
    env: "MERIDIAN_WORKSPACE_AGENT_IMAGE",
    valueName: "<image>",
    description: "Image of the workspace agents (a workspace spec may override it if the policy allows).",
    expected: "an image reference",
    schema: text,
    default: () => DEFAULT_WORKSPACE_AGENT_IMAGE,
  },
  workspaceAgentPullPolicy: {
    flag: "workspace-agent-pull-policy",
    env: "MERIDIAN_WORKSPACE_AGENT_PULL_POLICY",
    valueName: "<policy>",
    description: "imagePullPolicy of the workspace agent container.",
    expected: "Always, IfNotPresent or Never",
    schema: z.enum(["Always", "IfNotPresent", "Never"]),
    default: () => "IfNotPresent",
  },
  workspaceAgentPullSecrets: {
    flag: "workspace-agent-pull-secrets",
    env: "MERIDIAN_WORKSPACE_AGENT_PULL_SECRETS",
    valueName: "<names>",
    description:
      "Comma-separated imagePullSecrets referenced by the workspace agent pods (they must exist in each workspace namespace).",
    expected: "comma-separated Secret names",
    schema: list,
    default: () => "",
  },
  workspaceAgentSecurityContext: {
    flag: "workspace-agent-security-context",
    env: "MERIDIAN_WORKSPACE_AGENT_SECURITY_CONTEXT",
    valueName: "<json>",
    description:
      'securityContext of the workspace agent pods and containers, as JSON {"pod": {...}, "container": {...}} (the chart\'s workspaceAgent values); a part left out keeps its default.',
    expected:
      "a JSON object with a Kubernetes PodSecurityContext under pod and a SecurityContext under container",
    schema: workspaceAgentSecurityContextSetting,
    defaultDoc:
      "non-root uid/gid 10001, read-only root file system, no privilege escalation, drop ALL, seccomp RuntimeDefault",
  },
  workspaceEgress: {
    flag: "workspace-egress",
    env: "MERIDIAN_WORKSPACE_EGRESS",
    valueName: "<json>",
    description:
      'Where workspace pods may connect outside their namespace besides the local policy\'s allowedEgress, as JSON {"dns": {"namespace", "podLabels"}, "apiServer": {"cidrs", "ports"}, "controlPlane": {"cidrs", "ports"}} (the chart\'s networkPolicy values); empty cidrs mean any address on those ports.',
    expected: "a JSON object with dns, apiServer and controlPlane",
    schema: workspaceEgressSetting,
    defaultDoc:
      "DNS pods k8s-app=kube-dns in kube-system; the API server on 443 and 6443 and the control plane (or proxy) on its URL's port, at any address",
  },
  leaderElection: {
    flag: "leader-election",
    env: "MERIDIAN_LEADER_ELECTION",
    valueName: "<bool>",
    description: "Elect one active replica through a Lease.",
    expected: "true or false",
    schema: bool,
    default: () => "true",
  },
  workspaceAgentClusterRole: {
    flag: "workspace-agent-cluster-role",
    env: "MERIDIAN_WORKSPACE_AGENT_CLUSTER_ROLE",
    valueName: "<name>",
    description:
      "The ClusterRole the agent binds to each workspace agent in its namespace (RoleBinding meridian-workspace-agent); the chart makes it and grants the agent `bind` on it (decision 53).",
    expected: "a DNS name",
    schema: dnsName,
    default: () => "meridian-agent-workspace-agent",
  },
  flinkClusterRole: {
    flag: "flink-cluster-role",
    env: "MERIDIAN_FLINK_CLUSTER_ROLE",
    valueName: "<name>",
    description:
      "The ClusterRole the agent binds to the Flink pods' ServiceAccount in each workspace namespace (RoleBinding meridian-flink: Kubernetes HA); the chart makes it (decision 53).",
    expected: "a DNS name",
    schema: dnsName,
    default: () => "meridian-agent-flink",
  },
  drainClusterRole: {
    flag: "drain-cluster-role",
    env: "MERIDIAN_DRAIN_CLUSTER_ROLE",
    valueName: "<name>",
    description:
      "The ClusterRole the agent binds to itself in each workspace namespace (RoleBinding meridian-agent-drain: the deletion drain's ConfigMap list/watch); the chart makes it (decision 53).",
    expected: "a DNS name",
    schema: dnsName,
    default: () => "meridian-agent-drain",
  },
  serviceAccountName: {
    flag: "service-account-name",
    env: "MERIDIAN_SERVICE_ACCOUNT_NAME",
    valueName: "<name>",
    description:
      "The agent's own ServiceAccount (in its namespace), the subject of RoleBinding meridian-agent-drain in each workspace namespace.",
    expected: "a DNS name",
    schema: dnsName,
    default: () => "meridian-agent",
  },
  leaseName: {
    flag: "lease-name",
    env: "MERIDIAN_LEASE_NAME",
    valueName: "<name>",
    description: "Name of the leader-election Lease in the agent's namespace.",
    expected: "a DNS name",
    schema: dnsName,
    default: () => "meridian-agent",
  },
  leaseDurationMs: {
    flag: "lease-duration-ms",
    env: "MERIDIAN_LEASE_DURATION_MS",
    valueName: "<ms>",
    description: "A standby takes over when the leader has not renewed for this long.",
    expected: "a duration of at least 1000 ms (e.g. 15000 or 15s)",
    schema: duration(1000),
    default: () => "15000",
  },
  renewDeadlineMs: {
    flag: "renew-deadline-ms",
    env: "MERIDIAN_RENEW_DEADLINE_MS",
    valueName: "<ms>",
    description:
      "The leader gives up when no renewal succeeded for this long; shorter than the lease duration.",
    expected: "a duration shorter than the lease duration (e.g. 10000 or 10s)",
    schema: duration(100),
    default: () => "10000",
  },
  retryPeriodMs: {
    flag: "retry-period-ms",
    env: "MERIDIAN_RETRY_PERIOD_MS",
    valueName: "<ms>",
    description:
      "How often candidates try to acquire and the leader renews; shorter than the renew deadline.",
    expected: "a duration shorter than the renew deadline (e.g. 2000 or 2s)",
    schema: duration(50),
    default: () => "2000",
  },
  policyFile: {
    flag: "policy-file",
    env: "MERIDIAN_POLICY_FILE",
    valueName: "<path>",
    description: "Local policy YAML (docs/policy.md); unset means the default policy.",
    expected: "the path of a readable YAML file",
    schema: optionalText,
  },
  logLevel: {
    flag: "log-level",
    env: "MERIDIAN_LOG_LEVEL",
    valueName: "<level>",
    description: "Log level; passed on to the workspace agents unless a workspace sets its own.",
    expected: LOG_LEVELS_EXPECTED,
    schema: logLevel,
    default: () => "info",
  },
  healthAddr: {
    flag: "health-addr",
    env: "MERIDIAN_HEALTH_ADDR",
    valueName: "<host:port>",
    description: "Address of /healthz, /readyz and /metrics.",
    expected: "host:port such as 0.0.0.0:8080",
    schema: hostPort,
    default: () => "0.0.0.0:8080",
  },
  resyncPeriodMs: {
    flag: "resync-period-ms",
    env: "MERIDIAN_RESYNC_PERIOD_MS",
    valueName: "<ms>",
    description: "Every workspace is re-compared with the cluster this often (writes only on a difference).",
    expected: "a duration of at least 1000 ms",
    schema: duration(1000),
    default: () => "300000",
  },
  kubeConcurrency: {
    flag: "kube-concurrency",
    env: "MERIDIAN_KUBE_CONCURRENCY",
    valueName: "<n>",
    description: "Most Kubernetes API requests in flight at once (watches excluded).",
    expected: "an integer from 1 to 256",
    schema: integer(1, 256),
    default: () => "10",
  },
  workspaceConcurrency: {
    flag: "workspace-concurrency",
    env: "MERIDIAN_WORKSPACE_CONCURRENCY",
    valueName: "<n>",
    description: "Most workspaces reconciled at once (each workspace is serialized).",
    expected: "an integer from 1 to 256",
    schema: integer(1, 256),
    default: () => "16",
  },
  statusHeartbeatMs: {
    flag: "status-heartbeat-ms",
    env: "MERIDIAN_STATUS_HEARTBEAT_MS",
    valueName: "<ms>",
    description: "Status is re-sent this often when nothing changed.",
    expected: "a duration of at least 100 ms",
    schema: duration(100),
    default: () => "10000",
  },
  savepointBaseDir: {
    flag: "savepoint-base-dir",
    env: "MERIDIAN_SAVEPOINT_BASE_DIR",
    valueName: "<uri>",
    description:
      "Default savepoint directory, passed to the workspace agents (checked as they check it, so none of them refuses it).",
    expected: "a Flink file system URI such as s3://bucket/savepoints",
    schema: fileSystemUri,
  },
  httpsProxy: {
    flag: "https-proxy",
    env: "HTTPS_PROXY",
    valueName: "<url>",
    description: "Proxy for the control-plane connection; passed on to the workspace agents.",
    expected: "a proxy URL such as http://proxy:3128",
    schema: optionalText,
  },
  noProxy: {
    flag: "proxy-bypass",
    env: "NO_PROXY",
    valueName: "<hosts>",
    description: "Hosts that bypass the proxy; passed on to the workspace agents.",
    expected: "comma-separated hosts, domains and CIDRs",
    schema: optionalText,
  },
});

/** The table as a list, each setting with its key (the chart's tests look flags up in it). */
export const SETTINGS = Object.entries(AGENT_SETTINGS).map(([key, s]) => ({ key, ...s }));

export type AgentConfig = SettingsOf<typeof AGENT_SETTINGS> & {
  /** The policy file's contents (the default policy without one). */
  policy: Policy;
  /** Contents of caFile, read at start (passed to workspace agents in a ConfigMap). */
  caPem: string | undefined;
};

export interface ConfigInput extends SettingsInput {
  readFile?: (path: string) => string;
}

/** Reads every setting from its source, validates them together, and reads the files they name. */
export function loadConfig(input: ConfigInput): AgentConfig {
  const read = input.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const load = new SettingsLoad(AGENT_SETTINGS, input);
  let policyYaml: unknown = {};
  const policyFile = load.raw.policyFile?.trim() || undefined;
  if (policyFile) {
    try {
      policyYaml = parseYaml(read(policyFile)) ?? {};
    } catch (err) {
      load.problem("policyFile", `cannot read or parse ${policyFile}: ${(err as Error).message}`, {
        expected: false,
      });
    }
  }
  const values = load.validate();
  const policy = policySchema.safeParse(policyYaml);
  if (!policy.success)
    for (const issue of policy.error.issues) {
      const field = issue.path.join(".") || "(root)";
      const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
      load.problems.push(
        `policy file ${policyFile ?? "(none)"} (from file): ${field}: ${issue.message}${keys}; see docs/policy.md`,
      );
    }
  if (values && policy.success) checkTimings(values, load);
  load.finish();
  const config: AgentConfig = {
    ...(values as SettingsOf<typeof AGENT_SETTINGS>),
    policy: policy.data as Policy,
    caPem: undefined,
  };
  const token = tryRead(read, config.tokenFile);
  if (token.error) load.problem("tokenFile", token.error);
  else if (!token.text?.trim())
    load.problem("tokenFile", "the file is empty; put the agent's bearer token in it", { expected: false });
  if (config.caFile) {
    const ca = tryRead(read, config.caFile);
    if (ca.error || !ca.text?.includes("BEGIN CERTIFICATE"))
      load.problem("caFile", ca.error ?? "no PEM certificate in the file");
    else config.caPem = ca.text;
  }
  load.finish();
  return config;
}

/** Leader election's timings must nest: retry period < renew deadline < lease duration. */
function checkTimings(c: SettingsOf<typeof AGENT_SETTINGS>, load: SettingsLoad<typeof AGENT_SETTINGS>): void {
  if (!(c.renewDeadlineMs < c.leaseDurationMs))
    load.problem(
      "renewDeadlineMs",
      `${c.renewDeadlineMs} ms is not shorter than the lease duration ${c.leaseDurationMs} ms`,
    );
  if (!(c.retryPeriodMs < c.renewDeadlineMs))
    load.problem(
      "retryPeriodMs",
      `${c.retryPeriodMs} ms is not shorter than the renew deadline ${c.renewDeadlineMs} ms`,
    );
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
