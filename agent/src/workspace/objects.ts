// Pure builders of everything the agent creates for one workspace (names and labels per the
// contracts in docs/CONVENTIONS.md). No I/O: apply.ts compares these with the cache and applies.
import {
  WORKSPACE_AGENT_ENV as ENV,
  FLINK_SERVICE_ACCOUNT,
  WORKSPACE_AGENT_CA_DIR,
  WORKSPACE_AGENT_HEALTH_PORT,
  WORKSPACE_CREDENTIAL_SECRET,
  WORKSPACE_PROXY_SECRET,
} from "@meridian/shared/contract/workspace-agent-env";
import { asHeld, type Held, heldOf } from "@meridian/shared/controller/epoch";
import { ANNOTATION_ORPHANED_SINCE } from "@meridian/shared/controller/orphan";
import { COMPONENT_WORKSPACE_AGENT, LABEL_COMPONENT, LABEL_WORKSPACE } from "@meridian/shared/kube/labels";
import {
  CONFIG_MAPS,
  DEPLOYMENTS,
  type KubeObject,
  LIMIT_RANGES,
  NAMESPACES,
  NETWORK_POLICIES,
  RESOURCE_QUOTAS,
  type ResourceType,
  ROLE_BINDINGS,
  ROLES,
  SECRETS,
  SERVICE_ACCOUNTS,
} from "@meridian/shared/kube/resources";
import type { WorkspaceCredential, WorkspaceSpec } from "@meridian/shared/protocol/index";
import type { BuildContext, WorkspaceClusterRoles } from "./build-context.ts";
import { DEFAULT_EGRESS_SETTING, resolveEgress } from "./egress.ts";
import {
  DEFAULT_POD_SECURITY,
  LIMIT_RANGE_NAME,
  limitRangeSpec,
  type PodSecurityPolicy,
  podSecurityAnnotations,
  podSecurityLabels,
} from "./hardening.ts";
import { workspaceLabels } from "./labels.ts";
import { buildNetworkPolicies, NETWORK_POLICY_NAMES } from "./network-policies.ts";
import { ANNOTATION_PROXY_REVISION, buildProxySecret } from "./proxy-secret.ts";
import {
  buildFlinkRoleBinding,
  buildFlinkServiceAccount,
  FLINK_HA_ROLE,
  storageEnv,
} from "./storage-objects.ts";

export const NAMES = {
  serviceAccount: "meridian-workspace-agent",
  flinkServiceAccount: FLINK_SERVICE_ACCOUNT,
  role: "meridian-workspace-agent",
  roleBinding: "meridian-workspace-agent",
  secret: WORKSPACE_CREDENTIAL_SECRET,
  proxySecret: WORKSPACE_PROXY_SECRET,
  quota: "meridian-workspace-quota",
  limitRange: LIMIT_RANGE_NAME,
  networkPolicy: NETWORK_POLICY_NAMES.flink,
  deployment: "meridian-workspace-agent",
  container: "workspace-agent",
  caConfigMap: "meridian-control-plane-ca",
} as const;

/**
 * The generation of the workspace spec last applied, on its namespace: what a stale spec is compared
 * with after a restart (generations only move forward; see desired.ts).
 */
export const ANNOTATION_GENERATION = "meridian.dev/generation";
/**
 * Beside the generation: the control-plane epoch it belongs to (absent: epoch 0) and a digest of the
 * spec applied, so that a new epoch can take the workspace over unchanged (shared/src/controller/epoch.ts).
 */
export const ANNOTATION_EPOCH = "meridian.dev/epoch";
export const ANNOTATION_SPEC_DIGEST = "meridian.dev/spec-digest";
/** When the credential in the Secret was issued, so its refresh time is known after a restart. */
export const ANNOTATION_CREDENTIAL_ISSUED_AT = "meridian.dev/credential-issued-at";

export const CA_MOUNT_DIR = WORKSPACE_AGENT_CA_DIR;
export const HEALTH_PORT = WORKSPACE_AGENT_HEALTH_PORT;

export const DEFAULT_WORKSPACE_AGENT_RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "256Mi" },
};

export interface DesiredObject {
  type: ResourceType;
  object: KubeObject;
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export function namespaceName(prefix: string, id: string): string {
  return `${prefix}${id}`;
}

/** The workspace id of a namespace name, or undefined if it does not carry the prefix. */
export function workspaceIdOf(prefix: string, namespace: string | undefined): string | undefined {
  if (!namespace?.startsWith(prefix) || namespace.length === prefix.length) return undefined;
  return namespace.slice(prefix.length);
}

const meta = (name: string, namespace: string, id: string, component?: string) => ({
  name,
  namespace,
  labels: workspaceLabels(id, component),
});

/**
 * The workspace's Namespace: Meridian's labels, the Pod Security admission labels of the local policy
 * (hardening.ts) and what the agent records on it. Every writer of the Namespace passes `podSecurity`:
 * an apply without it would take the labels off again.
 */
export function buildNamespace(
  id: string,
  prefix: string,
  opts: { orphanedSince?: string; generation?: number | Held | undefined; podSecurity: PodSecurityPolicy },
): KubeObject {
  const labels = { ...workspaceLabels(id), ...podSecurityLabels(opts.podSecurity) };
  const metadata: KubeObject["metadata"] = { name: namespaceName(prefix, id), labels };
  const annotations: Record<string, string> = { ...podSecurityAnnotations(opts.podSecurity) };
  if (opts.generation !== undefined) Object.assign(annotations, heldAnnotations(asHeld(opts.generation)));
  if (opts.orphanedSince) annotations[ANNOTATION_ORPHANED_SINCE] = opts.orphanedSince;
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  return { apiVersion: "v1", kind: "Namespace", metadata };
}

/** The generation recorded on a workspace's namespace; undefined when absent or unreadable. */
export function recordedGeneration(ns: KubeObject | undefined): number | undefined {
  const text = ns?.metadata?.annotations?.[ANNOTATION_GENERATION];
  if (text === undefined || !/^[1-9]\d{0,15}$/.test(text)) return undefined;
  return Number(text);
}

/** The generation recorded on a namespace with its epoch (unreadable: 0) and spec digest (if readable). */
export function recordedHeld(ns: KubeObject | undefined): Held | undefined {
  const generation = recordedGeneration(ns);
  if (generation === undefined) return undefined;
  const epoch = ns?.metadata?.annotations?.[ANNOTATION_EPOCH] ?? "";
  const digest = ns?.metadata?.annotations?.[ANNOTATION_SPEC_DIGEST] ?? "";
  return {
    epoch: /^[1-9]\d{0,15}$/.test(epoch) ? Number(epoch) : 0,
    generation,
    digest: /^[0-9a-f]{32}$/.test(digest) ? digest : undefined,
  };
}

function heldAnnotations(held: Held): Record<string, string> {
  const out: Record<string, string> = { [ANNOTATION_GENERATION]: String(held.generation) };
  if (held.epoch > 0) out[ANNOTATION_EPOCH] = String(held.epoch);
  if (held.digest) out[ANNOTATION_SPEC_DIGEST] = held.digest;
  return out;
}

export function buildServiceAccount(id: string, ns: string): KubeObject {
  // The token is mounted only where the pod asks for it (the workspace agent's Deployment does).
  return { metadata: meta(NAMES.serviceAccount, ns, id), automountServiceAccountToken: false };
}

/**
 * Binds the chart's ClusterRole <fullname>-workspace-agent (files/workspace-agent-clusterrole-rules.yaml:
 * exactly what a workspace agent needs, nothing cluster-wide) to the workspace agent in its own
 * namespace. The agent holds `bind` on that ClusterRole, not its rules (decision 53).
 */
export function buildRoleBinding(id: string, ns: string, clusterRole: string): KubeObject {
  return {
    metadata: meta(NAMES.roleBinding, ns, id),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole },
    subjects: [{ kind: "ServiceAccount", name: NAMES.serviceAccount, namespace: ns }],
  };
}

/** The RoleBinding that lets the agent itself read a workspace namespace's ConfigMaps to drain it. */
export const DRAIN_BINDING = "meridian-agent-drain";

/**
 * Binds the chart's ClusterRole <fullname>-drain (files/agent-drain-clusterrole-rules.yaml: ConfigMaps
 * list and watch) to the agent's own ServiceAccount in this namespace only: what the deletion drain
 * reads (decision 33), without a cluster-wide ConfigMap read (decision 53).
 */
export function buildDrainRoleBinding(id: string, ns: string, roles: WorkspaceClusterRoles): KubeObject {
  return {
    metadata: meta(DRAIN_BINDING, ns, id),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roles.drain },
    subjects: [{ kind: "ServiceAccount", name: roles.agent.name, namespace: roles.agent.namespace }],
  };
}

export function buildResourceQuota(spec: WorkspaceSpec, ns: string): KubeObject {
  const { cpu, memory, pods } = spec.quota;
  return {
    metadata: meta(NAMES.quota, ns, spec.id),
    spec: {
      hard: {
        "requests.cpu": cpu,
        "limits.cpu": cpu,
        "requests.memory": memory,
        "limits.memory": memory,
        pods: String(pods),
      },
    },
  };
}

/** Default requests and limits for a container that sets none (hardening.ts). */
export function buildLimitRange(id: string, ns: string): KubeObject {
  return { metadata: meta(NAMES.limitRange, ns, id), spec: limitRangeSpec() };
}

export function buildCaConfigMap(id: string, ns: string, pem: string): KubeObject {
  return { metadata: meta(NAMES.caConfigMap, ns, id), data: { "ca.crt": pem } };
}

export function buildCredentialSecret(
  id: string,
  ns: string,
  credential: WorkspaceCredential,
  issuedAt: string,
): KubeObject {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  return {
    metadata: { ...meta(NAMES.secret, ns, id), annotations: { [ANNOTATION_CREDENTIAL_ISSUED_AT]: issuedAt } },
    type: "Opaque",
    data: { token: b64(credential.token), expiresAt: b64(credential.expiresAt), workspaceId: b64(id) },
  };
}

/** The spec's image override, else the configured default. */
export function resolveImage(spec: WorkspaceSpec, defaultImage: string): string {
  return spec.workspaceAgent.image ?? defaultImage;
}

export function buildDeployment(spec: WorkspaceSpec, ns: string, ctx: BuildContext): KubeObject {
  const labels = workspaceLabels(spec.id, COMPONENT_WORKSPACE_AGENT);
  const { [LABEL_COMPONENT]: component, [LABEL_WORKSPACE]: workspace } = labels;
  const selector = { [LABEL_COMPONENT]: component!, [LABEL_WORKSPACE]: workspace! };
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: HEALTH_PORT, scheme: "HTTP" },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  const volumes: unknown[] = [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }];
  const mounts: unknown[] = [{ name: "tmp", mountPath: "/tmp" }];
  if (ctx.caPem) {
    volumes.push({ name: "ca", configMap: { name: NAMES.caConfigMap } });
    mounts.push({ name: "ca", mountPath: CA_MOUNT_DIR, readOnly: true });
  }
  return {
    metadata: meta(NAMES.deployment, ns, spec.id, COMPONENT_WORKSPACE_AGENT),
    spec: {
      replicas: 1,
      // One controller per workspace: never two workspace agents at once.
      strategy: { type: "Recreate" },
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels,
          ...(ctx.httpsProxy && ctx.proxyRevision
            ? { annotations: { [ANNOTATION_PROXY_REVISION]: ctx.proxyRevision } }
            : {}),
        },
        spec: {
          serviceAccountName: NAMES.serviceAccount,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          imagePullSecrets: ctx.pullSecrets.map((name) => ({ name })),
          securityContext: ctx.securityContext.pod,
          containers: [
            {
              name: NAMES.container,
              image: ctx.image,
              imagePullPolicy: ctx.pullPolicy,
              args: ["run"],
              env: workspaceAgentEnv(spec, ctx),
              ports: [{ name: "http", containerPort: HEALTH_PORT, protocol: "TCP" }],
              readinessProbe: probe("/readyz", 5),
              livenessProbe: { ...probe("/healthz", 10), initialDelaySeconds: 5 },
              resources: spec.workspaceAgent.resources ?? DEFAULT_WORKSPACE_AGENT_RESOURCES,
              securityContext: ctx.securityContext.container,
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

/**
 * The workspace agent's environment, per the contract (@meridian/shared/contract/workspace-agent-env).
 * POD_IP comes before its use in MERIDIAN_HEALTH_ADDR.
 */
export function workspaceAgentEnv(spec: WorkspaceSpec, ctx: BuildContext): unknown[] {
  const value = (v: { name: string }, value: string) => ({ name: v.name, value });
  const field = (v: { name: string; fieldPath: string }) => ({
    name: v.name,
    valueFrom: { fieldRef: { fieldPath: v.fieldPath } },
  });
  const secret = (v: { name: string; secret: { name: string; key: string } }) => ({
    name: v.name,
    valueFrom: { secretKeyRef: { name: v.secret.name, key: v.secret.key } },
  });
  const env: unknown[] = [
    value(ENV.controlPlaneUrl, ctx.controlPlaneUrl),
    value(ENV.workspaceId, spec.id),
    field(ENV.namespace),
    field(ENV.podName),
    field(ENV.podIp),
    value(ENV.healthAddr, `$(${ENV.podIp.name}):${HEALTH_PORT}`),
    value(ENV.credentialSecret, NAMES.secret),
    value(ENV.logLevel, spec.workspaceAgent.logLevel ?? ctx.logLevel),
    value(ENV.flinkAllowedRegistries, ctx.flinkAllowedRegistries.join(",")),
    value(ENV.flinkAllowedJarURIs, ctx.flinkAllowedJarURIs.join(",")),
    value(ENV.orphanGracePeriodSeconds, String(ctx.orphanGracePeriodSeconds)),
    value(ENV.flinkPodTemplateAllowInitContainers, String(ctx.podTemplates?.allowInitContainers ?? true)),
    value(ENV.flinkPodTemplateAllowSidecars, String(ctx.podTemplates?.allowSidecars ?? true)),
  ];
  if (ctx.pullSecrets.length > 0) env.push(value(ENV.flinkImagePullSecrets, ctx.pullSecrets.join(",")));
  if (ctx.caPem) env.push(value(ENV.caFile, `${CA_MOUNT_DIR}/ca.crt`));
  if (ctx.signingPublicKeys?.length) env.push(value(ENV.signingPublicKeys, ctx.signingPublicKeys.join(",")));
  if (ctx.httpsProxy) env.push(secret(ENV.httpsProxy));
  if (ctx.noProxy) env.push(value(ENV.noProxy, ctx.noProxy));
  if (ctx.savepointBaseDir) env.push(value(ENV.savepointBaseDir, ctx.savepointBaseDir));
  if (spec.flinkPodTemplate)
    env.push(value(ENV.flinkDefaultPodTemplate, JSON.stringify(spec.flinkPodTemplate)));
  for (const [v, text] of storageEnv(spec, ctx)) env.push(value(v, text));
  return env;
}

/**
 * Everything for one workspace except the credential Secret (which needs the control plane), in
 * apply order: the Namespace first, then the ServiceAccount (pods need it), then the rest; the proxy
 * Secret (when there is a proxy) just before the Deployment whose pods read it.
 */
export function desiredObjects(spec: WorkspaceSpec, ctx: BuildContext): DesiredObject[] {
  const ns = namespaceName(ctx.namespacePrefix, spec.id);
  const out: DesiredObject[] = [
    {
      type: NAMESPACES,
      object: buildNamespace(spec.id, ctx.namespacePrefix, {
        generation: heldOf(spec),
        podSecurity: ctx.hardening?.podSecurity ?? DEFAULT_POD_SECURITY,
      }),
    },
    { type: SERVICE_ACCOUNTS, object: buildServiceAccount(spec.id, ns) },
    { type: SERVICE_ACCOUNTS, object: buildFlinkServiceAccount(spec, ns) },
    { type: ROLE_BINDINGS, object: buildRoleBinding(spec.id, ns, ctx.clusterRoles.workspaceAgent) },
    { type: ROLE_BINDINGS, object: buildFlinkRoleBinding(spec, ns, ctx.clusterRoles.flink) },
    { type: ROLE_BINDINGS, object: buildDrainRoleBinding(spec.id, ns, ctx.clusterRoles) },
    { type: RESOURCE_QUOTAS, object: buildResourceQuota(spec, ns) },
    { type: LIMIT_RANGES, object: buildLimitRange(spec.id, ns) },
    ...networkPolicies(spec.id, ns, ctx).map((object) => ({ type: NETWORK_POLICIES, object })),
  ];
  if (ctx.caPem) out.push({ type: CONFIG_MAPS, object: buildCaConfigMap(spec.id, ns, ctx.caPem) });
  if (ctx.httpsProxy)
    out.push({
      type: SECRETS,
      object: buildProxySecret(spec.id, ns, ctx.httpsProxy, ctx.proxyRevision ?? ""),
    });
  out.push({ type: DEPLOYMENTS, object: buildDeployment(spec, ns, ctx) });
  return out;
}

/** The namespace's NetworkPolicies (network-policies.ts) from the configured egress and the policy's. */
function networkPolicies(id: string, ns: string, ctx: BuildContext): KubeObject[] {
  const egress = resolveEgress(ctx.hardening?.egress ?? DEFAULT_EGRESS_SETTING, ctx);
  return buildNetworkPolicies(id, ns, egress, ctx.hardening?.allowedEgress ?? []);
}

/**
 * Kinds with one fixed name per workspace namespace, and that name: what the caches watch. The Roles
 * are no longer desired: the previous version made them, and apply.ts deletes Meridian's (decision 53).
 */
export const OWNED_NAMESPACED: readonly { type: ResourceType; name: string }[] = [
  { type: SERVICE_ACCOUNTS, name: NAMES.serviceAccount },
  { type: SERVICE_ACCOUNTS, name: NAMES.flinkServiceAccount },
  { type: ROLES, name: NAMES.role },
  { type: ROLE_BINDINGS, name: NAMES.roleBinding },
  { type: ROLES, name: FLINK_HA_ROLE },
  { type: ROLE_BINDINGS, name: FLINK_HA_ROLE },
  { type: ROLE_BINDINGS, name: DRAIN_BINDING },
  { type: RESOURCE_QUOTAS, name: NAMES.quota },
  { type: LIMIT_RANGES, name: NAMES.limitRange },
  ...Object.values(NETWORK_POLICY_NAMES).map((name) => ({ type: NETWORK_POLICIES, name })),
  { type: CONFIG_MAPS, name: NAMES.caConfigMap },
  { type: DEPLOYMENTS, name: NAMES.deployment },
  { type: SECRETS, name: NAMES.secret },
  { type: SECRETS, name: NAMES.proxySecret },
];
