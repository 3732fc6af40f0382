// The agent → workspace agent contract: the environment the agent's Deployment gives each workspace
// agent (agent/src/workspace/objects.ts renders it) and what each variable means (the workspace
// agent's settings table, workspace-agent/src/config.ts, reads it). Names live only here;
// test/contract/workspace-agent-env.test.ts renders the one side and loads it with the other.

/** Port of /healthz, /readyz and /metrics in the workspace agent's pod. */
export const WORKSPACE_AGENT_HEALTH_PORT = 8080;

/** The Secret in each workspace namespace holding the workspace credential (keys token, expiresAt, workspaceId). */
export const WORKSPACE_CREDENTIAL_SECRET = "meridian-workspace-credential";

/**
 * The Secret in each workspace namespace holding the agent's HTTPS proxy URL (key `httpsProxy`), present
 * only when the agent has a proxy: a proxy URL may carry a password, so it never sits in a Deployment.
 */
export const WORKSPACE_PROXY_SECRET = "meridian-workspace-proxy";
export const WORKSPACE_PROXY_SECRET_KEY = "httpsProxy";

/** Where the agent mounts the control plane's CA bundle (ConfigMap `meridian-control-plane-ca`). */
export const WORKSPACE_AGENT_CA_DIR = "/etc/meridian/ca";

/**
 * The ServiceAccount every workspace namespace has for its Flink pods (separate from the workspace
 * agent's, no Kubernetes permissions, carrying the cloud identity annotations).
 */
export const FLINK_SERVICE_ACCOUNT = "meridian-flink";

export interface EnvVar {
  name: string;
  /** What the variable means to the workspace agent (its --help and docs). */
  meaning: string;
  /** What a valid value looks like. */
  expected: string;
  /** Set from the pod through the downward API rather than by value. */
  fieldPath?: string;
  /** Set from this Secret's key (secretKeyRef) rather than by value: the value may be a credential. */
  secret?: { name: string; key: string };
}

export const WORKSPACE_AGENT_ENV = {
  controlPlaneUrl: {
    name: "MERIDIAN_CONTROL_PLANE_URL",
    meaning: "Base URL of the control plane (the agent's own).",
    expected: "an http(s) URL such as https://cp.example.com (required)",
  },
  workspaceId: {
    name: "MERIDIAN_WORKSPACE_ID",
    meaning: "The workspace this agent runs.",
    expected: "a workspace id: lowercase letters, digits and '-' (required)",
  },
  namespace: {
    name: "MERIDIAN_NAMESPACE",
    meaning: "The workspace namespace, where the Flink deployments live.",
    expected: "a namespace name (required)",
    fieldPath: "metadata.namespace",
  },
  podName: {
    name: "MERIDIAN_POD_NAME",
    meaning: "The pod's name: the status identity and the Events' reportingInstance.",
    expected: "a non-empty name",
    fieldPath: "metadata.name",
  },
  podIp: {
    name: "POD_IP",
    meaning: "The pod's IP, only for `$(POD_IP)` in MERIDIAN_HEALTH_ADDR.",
    expected: "an IP address",
    fieldPath: "status.podIP",
  },
  healthAddr: {
    name: "MERIDIAN_HEALTH_ADDR",
    meaning: "Address of /healthz, /readyz and /metrics (the agent sets `$(POD_IP):8080`).",
    expected: "host:port such as 0.0.0.0:8080",
  },
  credentialSecret: {
    name: "MERIDIAN_CREDENTIAL_SECRET",
    meaning: "Secret holding the workspace credential, read and watched through the Kubernetes API.",
    expected: "a Secret name in the workspace namespace",
  },
  logLevel: {
    name: "MERIDIAN_LOG_LEVEL",
    meaning: "Log level (the workspace spec's, else the agent's).",
    expected: "trace, debug, info, warn, error, fatal or silent",
  },
  caFile: {
    name: "MERIDIAN_CA_FILE",
    meaning:
      "PEM bundle trusted (besides the system roots) for the control plane; set when the agent has one.",
    expected: "the path of a readable PEM file",
  },
  httpsProxy: {
    name: "HTTPS_PROXY",
    meaning: `Proxy for the control-plane connection (the agent's), from the Secret ${WORKSPACE_PROXY_SECRET}.`,
    expected: "a proxy URL such as http://proxy:3128",
    secret: { name: WORKSPACE_PROXY_SECRET, key: WORKSPACE_PROXY_SECRET_KEY },
  },
  signingPublicKeys: {
    name: "MERIDIAN_SIGNING_PUBLIC_KEYS",
    meaning:
      "The control plane's pinned Ed25519 public keys (the agent's): every desired-state event must be signed by one of them; set when the agent has keys pinned.",
    expected: "comma-separated Ed25519 public keys, each the base64 of its 32 raw bytes (or PEM)",
  },
  noProxy: {
    name: "NO_PROXY",
    meaning: "Hosts that bypass the proxy (the agent's).",
    expected: "comma-separated hosts, domains and CIDRs",
  },
  flinkAllowedRegistries: {
    name: "MERIDIAN_FLINK_ALLOWED_REGISTRIES",
    meaning:
      "Registries (or registry/repository prefixes) Flink images may come from; empty accepts any (the local policy's allowedRegistries.flink).",
    expected: "comma-separated registries such as docker.io,registry.example.com/flink",
  },
  flinkAllowedJarURIs: {
    name: "MERIDIAN_FLINK_ALLOWED_JAR_URIS",
    meaning:
      "Remote locations Flink job jars may come from, besides local:// paths inside the image, which are always allowed (the local policy's allowedJarURIs).",
    expected: "comma-separated s3, s3a, gs, abfss, wasbs or https URI prefixes such as s3://bucket/jobs",
  },
  orphanGracePeriodSeconds: {
    name: "MERIDIAN_ORPHAN_GRACE_PERIOD_SECONDS",
    meaning:
      "A Flink deployment the control plane stopped listing is deleted after this long (the local policy's orphanGracePeriodSeconds).",
    expected: "an integer number of seconds from 0 to 31536000",
  },
  savepointBaseDir: {
    name: "MERIDIAN_SAVEPOINT_BASE_DIR",
    meaning: "Savepoint directory for deployments whose spec sets none (`<base>/<deployment>`); the agent's.",
    expected: "a Flink file system URI such as s3://bucket/savepoints or file:///flink-data/savepoints",
  },
  storageBaseURI: {
    name: "MERIDIAN_STORAGE_BASE_URI",
    meaning:
      "The workspace's storage.baseURI, checked against the local policy by the agent: checkpoints and savepoints of deployment <d> default to <base>/<d>/checkpoints and <base>/<d>/savepoints, and a deployment may only narrow them. Unset: MERIDIAN_SAVEPOINT_BASE_DIR.",
    expected: "an s3, s3a, abfss, wasbs (or, where the policy allows it, file) URI such as s3://bucket/flink",
  },
  storageCredentialsSecret: {
    name: "MERIDIAN_STORAGE_CREDENTIALS_SECRET",
    meaning:
      "The workspace's storage.credentialsSecret: a Secret in the workspace namespace whose keys reach the Flink pods as secretKeyRef environment variables: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN optional) for S3, AZURE_STORAGE_ACCOUNT_KEY for Azure.",
    expected: "a Secret name",
  },
  storageS3Endpoint: {
    name: "MERIDIAN_STORAGE_S3_ENDPOINT",
    meaning:
      "The local policy's storage.s3.endpoint: the S3-compatible server Flink's S3 file system talks to.",
    expected: "an http(s) URL such as https://minio.storage.svc:9000",
  },
  storageS3PathStyleAccess: {
    name: "MERIDIAN_STORAGE_S3_PATH_STYLE_ACCESS",
    meaning:
      "The local policy's storage.s3.pathStyleAccess: the bucket goes into the path, not the host name.",
    expected: "true or false",
  },
  flinkServiceAccount: {
    name: "MERIDIAN_FLINK_SERVICE_ACCOUNT",
    meaning:
      "The ServiceAccount Flink pods run as (the agent creates meridian-flink in every workspace namespace). Unset: the namespace's default ServiceAccount.",
    expected: "a ServiceAccount name",
  },
  flinkAzureClientId: {
    name: "MERIDIAN_FLINK_AZURE_CLIENT_ID",
    meaning:
      "The workspace's identity.azureClientId: Flink pods get the azure.workload.identity/use label and ABFS is configured for Workload Identity.",
    expected: "a client id (GUID)",
  },
  flinkImagePullSecrets: {
    name: "MERIDIAN_FLINK_IMAGE_PULL_SECRETS",
    meaning:
      "Pull secrets every Flink pod names (the chart's imagePullSecrets, which the agent copies into the workspace namespace); a pod template may add its own.",
    expected: "comma-separated Secret names",
  },
  flinkPodTemplateAllowInitContainers: {
    name: "MERIDIAN_FLINK_POD_TEMPLATE_ALLOW_INIT_CONTAINERS",
    meaning:
      "Whether a Flink deployment's pod template may add init containers (the local policy's podTemplates.allowInitContainers).",
    expected: "true or false",
  },
  flinkPodTemplateAllowSidecars: {
    name: "MERIDIAN_FLINK_POD_TEMPLATE_ALLOW_SIDECARS",
    meaning:
      "Whether a Flink deployment's pod template may add sidecar containers (the local policy's podTemplates.allowSidecars).",
    expected: "true or false",
  },
  flinkDefaultPodTemplate: {
    name: "MERIDIAN_FLINK_DEFAULT_POD_TEMPLATE",
    meaning:
      "The workspace's flinkPodTemplate: the default pod template merged under every Flink deployment's own (the deployment's wins). Unset: none.",
    expected: "a pod template (the protocol's podTemplate) as JSON",
  },
  flinkAzureTenantId: {
    name: "MERIDIAN_FLINK_AZURE_TENANT_ID",
    meaning: "The workspace's identity.azureTenantId (ABFS's OAuth tenant).",
    expected: "a tenant id (GUID)",
  },
} as const satisfies Record<string, EnvVar>;

export type WorkspaceAgentEnvKey = keyof typeof WORKSPACE_AGENT_ENV;
