// Where one Flink deployment keeps its state and how its pods reach it (pure). The workspace's
// storage (MERIDIAN_STORAGE_BASE_URI, checked against the local policy by the agent) gives every
// deployment `<base>/<name>/checkpoints`, `<base>/<name>/savepoints` and `<base>/<name>/ha`; a
// deployment may narrow them to a sub-path in its flinkConfiguration, never point them elsewhere. The scheme picks Flink's
// file-system plugin, enabled the way the official image does it (ENABLE_BUILT_IN_PLUGINS links
// opt/<jar> into plugins/); credentials come from the pods' cloud identity, or from a Secret as
// environment variables, never from config.yaml.
import type { V1EnvVar } from "@kubernetes/client-node";
import {
  canonicalStorageUri,
  fileSystemOf,
  isWithin,
  parseStorageUri,
} from "@meridian/shared/policy/storage-uris";
import type { DeploymentSpec } from "@meridian/shared/protocol/index";

/** What the workspace agent knows of its workspace's storage and identity (its environment). */
export interface FlinkStorage {
  /** The workspace's storage.baseURI; undefined: the legacy savepoint base dir. */
  baseURI?: string | undefined;
  /** The ServiceAccount Flink pods run as; undefined: the namespace's default. */
  serviceAccount?: string | undefined;
  /** A Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for S3 (no cloud identity). */
  credentialsSecret?: string | undefined;
  /** The local policy's S3-compatible endpoint, and whether buckets go into the path. */
  s3Endpoint?: string | undefined;
  s3PathStyleAccess?: boolean | undefined;
  /** Azure Workload Identity of the Flink pods. */
  azureClientId?: string | undefined;
  azureTenantId?: string | undefined;
}

/** The keys that name a deployment's checkpoint and savepoint directories (Flink 2 and legacy names). */
export const SAVEPOINT_DIR_KEYS = ["execution.checkpointing.savepoint-dir", "state.savepoints.dir"] as const;
export const CHECKPOINT_DIR_KEYS = ["execution.checkpointing.dir", "state.checkpoints.dir"] as const;

/** Where Kubernetes HA keeps its metadata (state-config.ts): also at or under the deployment's area. */
export const HA_STORAGE_DIR_KEY = "high-availability.storageDir";

/** Pod label Azure Workload Identity's webhook selects pods by. */
export const LABEL_AZURE_WORKLOAD_IDENTITY = "azure.workload.identity/use";
/** Where the official image's entrypoint links built-in plugins (an emptyDir: the root is read-only). */
export const PLUGINS_DIR = "/opt/flink/plugins";
/** Where Azure Workload Identity's webhook projects the federated token. */
const AZURE_TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token";

/** The plugin jar (in the image's opt/) per file-system family, `<name>-<flink version>.jar`. */
export const PLUGIN_JARS = { s3: "flink-s3-fs-hadoop", azure: "flink-azure-fs-hadoop" } as const;

/** `<base>/<name>`: the deployment's own area of the workspace's storage. */
export function deploymentBase(baseURI: string, name: string): string {
  return `${baseURI.replace(/\/+$/, "")}/${name}`;
}

/** The spec's own value of the first of `keys` it sets. */
function own(spec: DeploymentSpec, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = spec.flinkConfiguration[k];
    if (v) return v;
  }
  return undefined;
}

/** The checkpoint directory: the spec's own, else `<base>/<name>/checkpoints`, else none (Flink's default). */
export function checkpointDir(spec: DeploymentSpec, storage: FlinkStorage | undefined): string | undefined {
  const mine = own(spec, CHECKPOINT_DIR_KEYS);
  if (mine) return mine;
  return storage?.baseURI ? `${deploymentBase(storage.baseURI, spec.name)}/checkpoints` : undefined;
}

/** The savepoint directory from the workspace's storage (`<base>/<name>/savepoints`), unless the spec names one. */
export function storageSavepointDir(
  spec: DeploymentSpec,
  storage: FlinkStorage | undefined,
): string | undefined {
  const mine = own(spec, SAVEPOINT_DIR_KEYS);
  if (mine) return mine;
  return storage?.baseURI ? `${deploymentBase(storage.baseURI, spec.name)}/savepoints` : undefined;
}

/** The Flink version of an image: the tag's leading `x.y.z` (`flink:2.3.0-java17` -> `2.3.0`). */
export function flinkVersionOf(image: string): string | undefined {
  const tag = /:([^/:@]+)(@sha256:[0-9a-f]+)?$/.exec(image)?.[1];
  return tag ? /^(\d+\.\d+\.\d+)(?=$|[-_])/.exec(tag)?.[1] : undefined;
}

/** The file-system families the deployment's directories need a plugin for. */
function fileSystems(spec: DeploymentSpec, storage: FlinkStorage | undefined): Set<"s3" | "azure"> {
  const out = new Set<"s3" | "azure">();
  for (const dir of [checkpointDir(spec, storage), storageSavepointDir(spec, storage)]) {
    const scheme = dir && /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(dir)?.[1]?.toLowerCase();
    const fs = scheme ? fileSystemOf(scheme) : undefined;
    if (fs) out.add(fs);
  }
  return out;
}

/** The plugin jars to enable (`flink-s3-fs-hadoop-2.3.0.jar`); empty when the state is local. */
export function pluginJars(spec: DeploymentSpec, storage: FlinkStorage | undefined): string[] {
  const version = flinkVersionOf(spec.image);
  if (!version) return [];
  return [...fileSystems(spec, storage)].sort().map((fs) => `${PLUGIN_JARS[fs]}-${version}.jar`);
}

/**
 * Flink options the workspace's storage implies, applied over the spec's (which may not set the
 * routing or credential keys, see refuseStorage): the S3 endpoint of the local policy, and the
 * credential chain (environment variables from the Secret, IRSA's web identity token, EKS Pod
 * Identity, the node's role), or ABFS with Workload Identity.
 */
export function storageFlinkConfig(
  spec: DeploymentSpec,
  storage: FlinkStorage | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  const dir = checkpointDir(spec, storage);
  if (dir && storage?.baseURI) out["execution.checkpointing.dir"] = dir;
  const systems = fileSystems(spec, storage);
  if (systems.has("s3")) {
    // SDK v1 (flink-s3-fs-hadoop 2.x bundles hadoop-aws 3.3): env keys, IRSA, Pod Identity, instance role.
    out["fs.s3a.aws.credentials.provider"] = "com.amazonaws.auth.DefaultAWSCredentialsProviderChain";
    // Keep directory markers (Hadoop 3.4's default): with 3.3's "delete", every write (a savepoint's
    // mkdirs in the JobMaster, each checkpoint file) waits on a bulk DeleteObjects of the parent
    // markers, which S3-compatible stores (S3Proxy) answer slowly or not at all; the savepoint then
    // stalls past the heartbeat timeout and the stop-with-savepoint never completes.
    out["fs.s3a.directory.marker.retention"] = "keep";
    if (storage?.s3Endpoint) {
      out["s3.endpoint"] = storage.s3Endpoint;
      out["s3.path.style.access"] = String(storage.s3PathStyleAccess ?? false);
    }
  }
  if (systems.has("azure") && storage?.credentialsSecret && !storage.azureClientId)
    // The account key from the Secret, by reference: Hadoop's Configuration resolves `${env.NAME}`
    // when the plugin reads the key, so config.yaml (a ConfigMap) holds only the variable's name.
    for (const host of azureAccountHosts(spec, storage))
      out[`fs.azure.account.key.${host}`] = `\${env.${AZURE_ACCOUNT_KEY_ENV}}`;
  if (systems.has("azure") && storage?.azureClientId) {
    out["fs.azure.account.auth.type"] = "OAuth";
    out["fs.azure.account.oauth.provider.type"] =
      "org.apache.hadoop.fs.azurebfs.oauth2.WorkloadIdentityTokenProvider";
    out["fs.azure.account.oauth2.client.id"] = storage.azureClientId;
    out["fs.azure.account.oauth2.token.file"] = AZURE_TOKEN_FILE;
    if (storage.azureTenantId) out["fs.azure.account.oauth2.msi.tenant"] = storage.azureTenantId;
  }
  return out;
}

/** The variable (and key of the credentials Secret) holding an Azure storage account key. */
export const AZURE_ACCOUNT_KEY_ENV = "AZURE_STORAGE_ACCOUNT_KEY";

/** The storage account hosts (`<account>.blob.core.windows.net`) of the deployment's Azure directories. */
function azureAccountHosts(spec: DeploymentSpec, storage: FlinkStorage | undefined): string[] {
  const hosts = new Set<string>();
  for (const dir of [checkpointDir(spec, storage), storageSavepointDir(spec, storage)]) {
    const parsed = dir ? parseStorageUri(dir) : undefined;
    if (parsed?.ok && fileSystemOf(parsed.location.scheme) === "azure") hosts.add(parsed.location.host);
  }
  return [...hosts].sort();
}

/** Environment of both Flink containers: the plugins to enable, and access keys by Secret reference. */
export function storageEnv(spec: DeploymentSpec, storage: FlinkStorage | undefined): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  const jars = pluginJars(spec, storage);
  if (jars.length > 0) env.push({ name: "ENABLE_BUILT_IN_PLUGINS", value: jars.join(";") });
  const secret = storage?.credentialsSecret;
  if (secret && fileSystems(spec, storage).has("s3"))
    for (const [key, optional] of [
      ["AWS_ACCESS_KEY_ID", false],
      ["AWS_SECRET_ACCESS_KEY", false],
      ["AWS_SESSION_TOKEN", true],
    ] as const)
      env.push({ name: key, valueFrom: { secretKeyRef: { name: secret, key, optional } } });
  if (secret && !storage.azureClientId && fileSystems(spec, storage).has("azure"))
    env.push({
      name: AZURE_ACCOUNT_KEY_ENV,
      valueFrom: { secretKeyRef: { name: secret, key: AZURE_ACCOUNT_KEY_ENV } },
    });
  return env;
}

/** Labels the identity needs on the Flink pods (Azure Workload Identity's webhook selects by one). */
export function storagePodLabels(storage: FlinkStorage | undefined): Record<string, string> {
  return storage?.azureClientId ? { [LABEL_AZURE_WORKLOAD_IDENTITY]: "true" } : {};
}

/** Whether the pods need the writable plugins dir (ENABLE_BUILT_IN_PLUGINS links into it). */
export function needsPluginsDir(spec: DeploymentSpec, storage: FlinkStorage | undefined): boolean {
  return pluginJars(spec, storage).length > 0;
}

/** Keys whose value is a credential: never in a spec (it would land in a ConfigMap and the status). */
const CREDENTIAL_KEY =
  /(^|\.)(access[.-]key|secret[.-]key|session[.-]token)$|^fs\.azure\.(account\.key|sas)\b|oauth2\.client\.secret/i;
/** Keys that re-route S3 traffic: the local policy's storage.s3 sets them, not a control plane. */
const ROUTING_KEY = /^(s3|s3a|fs\.s3a)\.(endpoint|bucket\..+\.endpoint|path\.style\.access)$/i;

export interface StorageRefusal {
  field: string;
  message: string;
}

/**
 * Why the workspace's storage rules refuse `spec`, or undefined: a credential in flinkConfiguration
 * (always), an S3 endpoint the local policy did not set, a checkpoint or savepoint directory outside
 * `<base>/<name>`, or an image whose tag names no Flink version when a plugin is needed.
 */
export function refuseStorage(
  spec: DeploymentSpec,
  storage: FlinkStorage | undefined,
): StorageRefusal | undefined {
  const keys = Object.keys(spec.flinkConfiguration);
  const credential = keys.find((k) => CREDENTIAL_KEY.test(k));
  if (credential)
    return {
      field: `flinkConfiguration.${credential}`,
      message: `flinkConfiguration.${credential} would put a credential into the Flink ConfigMap; give the Flink pods a cloud identity (the workspace's identity) or name a Secret in the workspace's storage.credentialsSecret`,
    };
  if (!storage?.baseURI) return undefined;
  const routing = keys.find((k) => ROUTING_KEY.test(k));
  if (routing)
    return {
      field: `flinkConfiguration.${routing}`,
      message: `flinkConfiguration.${routing} is set by the local policy (storage.s3) for workspaces with storage; remove it`,
    };
  const area = deploymentBase(storage.baseURI, spec.name);
  for (const key of [...SAVEPOINT_DIR_KEYS, ...CHECKPOINT_DIR_KEYS, HA_STORAGE_DIR_KEY]) {
    const value = spec.flinkConfiguration[key];
    if (value === undefined) continue;
    const parsed = parseStorageUri(value, `flinkConfiguration.${key}`);
    if (!parsed.ok) return { field: `flinkConfiguration.${key}`, message: parsed.reason };
    if (!isWithin(canonicalStorageUri(parsed.location), area))
      return {
        field: `flinkConfiguration.${key}`,
        message: `flinkConfiguration.${key} must lie at or under ${area}, this deployment's part of the workspace's storage; a deployment may narrow its state directory, never move it elsewhere`,
      };
  }
  const initial = spec.job.initialSavepointPath;
  if (initial !== undefined) {
    const parsed = parseStorageUri(initial, "job.initialSavepointPath");
    if (!parsed.ok) return { field: "job.initialSavepointPath", message: parsed.reason };
    if (!isWithin(canonicalStorageUri(parsed.location), storage.baseURI))
      return {
        field: "job.initialSavepointPath",
        message: `job.initialSavepointPath must lie under ${storage.baseURI}, the workspace's storage; a deployment restores only from its own workspace's state`,
      };
  }
  if (fileSystems(spec, storage).size > 0 && !flinkVersionOf(spec.image))
    return {
      field: "image",
      message: `image ${spec.image} has no Flink version (x.y.z) at the start of its tag, which names the file-system plugin to enable (e.g. flink-s3-fs-hadoop-2.3.0.jar); use a tag such as flink:2.3.0-java17`,
    };
  return undefined;
}

/** The storage part of the workspace agent's settings (its environment, set by the agent). */
export function flinkStorageOf(c: {
  storageBaseURI?: string | undefined;
  storageCredentialsSecret?: string | undefined;
  storageS3Endpoint?: string | undefined;
  storageS3PathStyleAccess?: boolean | undefined;
  flinkServiceAccount?: string | undefined;
  flinkAzureClientId?: string | undefined;
  flinkAzureTenantId?: string | undefined;
}): FlinkStorage {
  return {
    baseURI: c.storageBaseURI?.replace(/\/+$/, ""),
    serviceAccount: c.flinkServiceAccount,
    credentialsSecret: c.storageCredentialsSecret,
    s3Endpoint: c.storageS3Endpoint,
    s3PathStyleAccess: c.storageS3PathStyleAccess,
    azureClientId: c.flinkAzureClientId,
    azureTenantId: c.flinkAzureTenantId,
  };
}
