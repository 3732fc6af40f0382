// The workspace agent's configuration: its settings table, read once at start by the shared settings
// loader (@meridian/shared/process/settings: flag, then the environment the agent's Deployment sets,
// then default). The variables the agent sets and what they mean are the contract in
// @meridian/shared/contract/workspace-agent-env; this table gives each its flag and schema. A bad
// value fails fast with a message naming the setting, where it came from and what was expected.
// Nothing else reads process.env.
import { hostname } from "node:os";
import {
  WORKSPACE_AGENT_ENV as ENV,
  WORKSPACE_AGENT_HEALTH_PORT,
  WORKSPACE_CREDENTIAL_SECRET,
} from "@meridian/shared/contract/workspace-agent-env";
import { type ProxySettings, proxySettingsFromEnv } from "@meridian/shared/controlplane/http";
import { jarUriEntryProblem } from "@meridian/shared/policy/jar-uris";
import { storageUriProblem } from "@meridian/shared/policy/storage-uris";
import {
  bool,
  dnsLabel,
  fileSystemUri,
  hostPort,
  httpUrl,
  integer,
  jsonText,
  list,
  logLevel,
  optionalText,
  signingPublicKeys,
  text,
} from "@meridian/shared/process/setting-schemas";
import {
  loadSettings,
  type Setting,
  type SettingsInput,
  type SettingsOf,
  settingsTable,
} from "@meridian/shared/process/settings";
import { podTemplate } from "@meridian/shared/protocol/pod-template";
import type { z } from "zod";

/** A setting the agent's Deployment sets: its variable, meaning and expectation from the contract. */
function fromContract<S extends z.ZodType>(
  v: (typeof ENV)[keyof typeof ENV],
  s: Omit<Setting<S>, "env" | "description" | "expected">,
): Setting<S> {
  return { ...s, env: v.name, description: v.meaning, expected: v.expected };
}

/** A true/false setting the agent's Deployment sets. */
function boolFromContract(v: (typeof ENV)[keyof typeof ENV], flag: string, fallback: "true" | "false") {
  return fromContract(v, { flag, valueName: "<bool>", schema: bool, default: () => fallback });
}

export const WORKSPACE_AGENT_SETTINGS = settingsTable({
  controlPlaneUrl: fromContract(ENV.controlPlaneUrl, {
    flag: "control-plane-url",
    valueName: "<url>",
    schema: httpUrl,
  }),
  workspaceId: fromContract(ENV.workspaceId, { flag: "workspace-id", valueName: "<id>", schema: dnsLabel }),
  namespace: fromContract(ENV.namespace, { flag: "namespace", valueName: "<ns>", schema: dnsLabel }),
  podName: fromContract(ENV.podName, {
    flag: "pod-name",
    valueName: "<name>",
    schema: text,
    default: () => hostname(),
    defaultDoc: "the host name",
  }),
  healthAddr: fromContract(ENV.healthAddr, {
    flag: "health-addr",
    valueName: "<host:port>",
    schema: hostPort,
    default: () => `0.0.0.0:${WORKSPACE_AGENT_HEALTH_PORT}`,
  }),
  credentialSecret: fromContract(ENV.credentialSecret, {
    flag: "credential-secret",
    valueName: "<name>",
    schema: dnsLabel,
    default: () => WORKSPACE_CREDENTIAL_SECRET,
  }),
  logLevel: fromContract(ENV.logLevel, {
    flag: "log-level",
    valueName: "<level>",
    schema: logLevel,
    default: () => "info",
  }),
  caFile: fromContract(ENV.caFile, { flag: "ca-file", valueName: "<path>", schema: optionalText }),
  signingPublicKeys: fromContract(ENV.signingPublicKeys, {
    flag: "signing-public-keys",
    valueName: "<keys>",
    schema: signingPublicKeys,
    defaultDoc: "none: events are not verified",
  }),
  flinkAllowedRegistries: fromContract(ENV.flinkAllowedRegistries, {
    flag: "flink-allowed-registries",
    valueName: "<registries>",
    schema: list,
    defaultDoc: "any registry",
  }),
  flinkAllowedJarURIs: fromContract(ENV.flinkAllowedJarURIs, {
    flag: "flink-allowed-jar-uris",
    valueName: "<uris>",
    schema: list.superRefine((entries, ctx) => {
      for (const problem of entries.map(jarUriEntryProblem))
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    defaultDoc: "none: only local:// paths inside the image",
  }),
  savepointBaseDir: fromContract(ENV.savepointBaseDir, {
    flag: "savepoint-base-dir",
    valueName: "<uri>",
    schema: fileSystemUri,
  }),
  storageBaseURI: fromContract(ENV.storageBaseURI, {
    flag: "storage-base-uri",
    valueName: "<uri>",
    schema: optionalText.superRefine((uri, ctx) => {
      const problem = uri === undefined ? undefined : storageUriProblem(uri);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    defaultDoc: "none: savepoints under --savepoint-base-dir",
  }),
  storageCredentialsSecret: fromContract(ENV.storageCredentialsSecret, {
    flag: "storage-credentials-secret",
    valueName: "<name>",
    schema: optionalText,
    defaultDoc: "none: credentials only from the pods' cloud identity",
  }),
  storageS3Endpoint: fromContract(ENV.storageS3Endpoint, {
    flag: "storage-s3-endpoint",
    valueName: "<url>",
    schema: optionalText.pipe(httpUrl.optional()),
    defaultDoc: "AWS S3",
  }),
  storageS3PathStyleAccess: boolFromContract(
    ENV.storageS3PathStyleAccess,
    "storage-s3-path-style-access",
    "false",
  ),
  flinkServiceAccount: fromContract(ENV.flinkServiceAccount, {
    flag: "flink-service-account",
    valueName: "<name>",
    schema: optionalText.pipe(dnsLabel.optional()),
    defaultDoc: "the namespace's default ServiceAccount",
  }),
  flinkAzureClientId: fromContract(ENV.flinkAzureClientId, {
    flag: "flink-azure-client-id",
    valueName: "<guid>",
    schema: optionalText,
  }),
  flinkImagePullSecrets: fromContract(ENV.flinkImagePullSecrets, {
    flag: "flink-image-pull-secrets",
    valueName: "<names>",
    schema: list,
    defaultDoc: "none",
  }),
  flinkPodTemplateAllowInitContainers: boolFromContract(
    ENV.flinkPodTemplateAllowInitContainers,
    "flink-pod-template-allow-init-containers",
    "true",
  ),
  flinkPodTemplateAllowSidecars: boolFromContract(
    ENV.flinkPodTemplateAllowSidecars,
    "flink-pod-template-allow-sidecars",
    "true",
  ),
  flinkDefaultPodTemplate: fromContract(ENV.flinkDefaultPodTemplate, {
    flag: "flink-default-pod-template",
    valueName: "<json>",
    schema: jsonText(podTemplate.optional(), undefined),
    defaultDoc: "none",
  }),
  flinkAzureTenantId: fromContract(ENV.flinkAzureTenantId, {
    flag: "flink-azure-tenant-id",
    valueName: "<guid>",
    schema: optionalText,
  }),
  kubeconfig: {
    flag: "kubeconfig",
    env: "KUBECONFIG",
    valueName: "<path>",
    description: "Kubeconfig to use; unset means the pod's in-cluster ServiceAccount.",
    expected: "the path of a kubeconfig file",
    schema: optionalText,
  },
  flinkPollIntervalMs: {
    flag: "flink-poll-interval-ms",
    env: "MERIDIAN_FLINK_POLL_INTERVAL_MS",
    valueName: "<ms>",
    description: "How often each JobManager's REST API is polled for the job's state.",
    expected: "an integer number of milliseconds from 100 to 600000",
    schema: integer(100, 600_000),
    default: () => "2000",
  },
  flinkRequestTimeoutMs: {
    flag: "flink-request-timeout-ms",
    env: "MERIDIAN_FLINK_REQUEST_TIMEOUT_MS",
    valueName: "<ms>",
    description: "Deadline of one request to a JobManager's REST API.",
    expected: "an integer number of milliseconds from 100 to 120000",
    schema: integer(100, 120_000),
    default: () => "5000",
  },
  statusIntervalMs: {
    flag: "status-interval-ms",
    env: "MERIDIAN_STATUS_INTERVAL_MS",
    valueName: "<ms>",
    description: "Status is re-sent this often when nothing changed (level-based heartbeat).",
    expected: "an integer number of milliseconds from 100 to 3600000",
    schema: integer(100, 3_600_000),
    default: () => "15000",
  },
  kubeConcurrency: {
    flag: "kube-concurrency",
    env: "MERIDIAN_KUBE_CONCURRENCY",
    valueName: "<n>",
    description: "Most Kubernetes API requests in flight at once (watches excluded).",
    expected: "an integer from 1 to 100",
    schema: integer(1, 100),
    default: () => "8",
  },
  orphanGracePeriodSeconds: fromContract(ENV.orphanGracePeriodSeconds, {
    flag: "orphan-grace-period-seconds",
    valueName: "<seconds>",
    schema: integer(0, 31_536_000),
    default: () => "86400",
  }),
});

/** The table as a list, each setting with its key. */
export const SETTINGS = Object.entries(WORKSPACE_AGENT_SETTINGS).map(([key, s]) => ({ key, ...s }));

export type WorkspaceAgentConfig = SettingsOf<typeof WORKSPACE_AGENT_SETTINGS> & {
  /** HTTPS_PROXY, HTTP_PROXY, NO_PROXY (or their lowercase forms), as the agent passes them on. */
  proxy: ProxySettings;
};

/**
 * Builds the config from flags (win), then env, then defaults. Throws one ConfigError listing every
 * bad or missing setting, each with its source and what was expected.
 */
export function loadConfig(input: SettingsInput): WorkspaceAgentConfig {
  return { ...loadSettings(WORKSPACE_AGENT_SETTINGS, input), proxy: proxySettingsFromEnv(input.env) };
}

/** The config as safe to log: no credentials live in it, but proxy URLs may carry userinfo. */
export function describeConfig(c: WorkspaceAgentConfig): Record<string, unknown> {
  const strip = (u: string | undefined) => u?.replace(/\/\/[^@/]*@/, "//[REDACTED]@");
  return {
    ...c,
    proxy: { ...c.proxy, httpsProxy: strip(c.proxy.httpsProxy), httpProxy: strip(c.proxy.httpProxy) },
    signingPublicKeys: c.signingPublicKeys.ids(),
  };
}
