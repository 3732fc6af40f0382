// Test harness of the workspace agent's integration tests: a real local cluster with the node
// simulator (Flink pods run as real JVMs through the Flink image handler), the reference control
// plane, and per workspace what the agent would create (namespace, ServiceAccount, Role,
// RoleBinding, credential Secret). The workspace agent runs in-process with a kubeconfig of its
// ServiceAccount, so every request it makes is checked by RBAC and by the chart's confinement
// policy (test/agent/confinement.ts) exactly as in a cluster.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requestWorkspaceCredential, StaticTokenSource } from "@meridian/shared/controlplane/credentials";
import { createDispatcher } from "@meridian/shared/controlplane/http";
import { PinnedKeys } from "@meridian/shared/controlplane/verify";
import { applyObject } from "@meridian/shared/kube/apply";
import { createKubeClient, type KubeClient } from "@meridian/shared/kube/client";
import {
  CLUSTER_ROLES,
  NAMESPACES,
  type ResourceType,
  ROLE_BINDINGS,
  ROLES,
  SECRETS,
  SERVICE_ACCOUNTS,
} from "@meridian/shared/kube/resources";
import { createLogger, type Logger, silentLogger } from "@meridian/shared/log";
import type { DeploymentStatus, WorkspaceCredential } from "@meridian/shared/protocol/index";
import { parsePublicKey } from "@meridian/shared/protocol/signing";
import {
  startWorkspaceAgent,
  type WorkspaceAgent,
  type WorkspaceAgentOverrides,
} from "@meridian/workspace-agent/agent";
import type { WorkspaceAgentConfig } from "@meridian/workspace-agent/config";
import { podIpRestUrl } from "@meridian/workspace-agent/flink/monitor";
import { installConfinement, tryWrite, waitUntilEnforced } from "../agent/confinement.ts";
import { startCluster } from "../cluster/cluster.ts";
import { flinkImageHandler } from "../cluster/flink/image-handler.ts";
import type { Cluster } from "../cluster/handle.ts";
import { defaultImageMap, type NodeSimulator, startNodeSimulator } from "../cluster/node-simulator/index.ts";
import { type ControlPlane, type DeploymentBody, startControlPlane } from "../control-plane/index.ts";
import { TEST_SIGNING_PUBLIC_KEY } from "../control-plane/signing.ts";
import { workspaceAgentRbac } from "./rbac.ts";

export const FLINK_IMAGE = "flink:2.3.0";
/** Keyed window state, generated data, runs until stopped; takes canonical savepoints. */
export const EXAMPLE_JOB = "org.apache.flink.streaming.examples.windowing.TopSpeedWindowing";
export const ALLOWED_REGISTRIES = ["docker.io/library/flink", "registry.meridian.test"];
export const AGENT_ID = "agent-1";

/** A deployment whose pods "run" without a process: the node simulator does not map its image. */
export const SIMULATED: DeploymentBody = {
  image: "registry.meridian.test/flink-simulated:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "100m", memory: "256Mi" } },
  taskManager: { resources: { cpu: "100m", memory: "256Mi" }, taskSlots: 1 },
  state: "RUNNING",
  upgradeMode: "STATELESS",
};

export interface Env {
  cluster: Cluster;
  /** Admin client of the cluster (the agent's rights and more). */
  admin: KubeClient;
  sim: NodeSimulator;
  cp: ControlPlane;
  agentToken: string;
  /** The chart's policy confining every workspace agent (what its refusals name). */
  workspacePolicy: string;
  /** Where the Flink image handler maps container paths (savepoints land under it). */
  dataDir: string;
  dir: string;
  logger: Logger;
  stop(): Promise<void>;
}

/** Logs of the harness and the agents: silent unless MERIDIAN_TEST_LOG=debug|info. */
export function testLogger(): Logger {
  const level = process.env.MERIDIAN_TEST_LOG;
  return level ? createLogger({ component: "test", level: level as "info" }) : silentLogger();
}

/** `nodes`: simulated nodes (default 1; each holds 110 pods, 16 CPUs, 32 GiB). */
export async function startEnv(opts: { nodes?: number } = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), "meridian-wsa-"));
  const dataDir = join(dir, "flink-data");
  const logger = testLogger();
  const cluster = await startCluster({ logger });
  let sim: NodeSimulator | undefined;
  let cp: ControlPlane | undefined;
  try {
    sim = await startNodeSimulator({
      cluster,
      nodes: opts.nodes ?? 1,
      imageMap: defaultImageMap([flinkImageHandler({ dataDir })]),
      logger,
    });
    cp = await startControlPlane({ dbPath: join(dir, "cp.db"), keepAliveMs: 1000 });
    const agent = await cp.admin.createAgent(AGENT_ID);
    const admin = await createKubeClient({ kubeconfig: cluster.kubeconfigPath });
    const { workspacePolicy } = await installConfinement(cluster, {
      namespace: "meridian-system",
      serviceAccount: "meridian-agent",
    });
    const s = sim;
    const c = cp;
    return {
      cluster,
      admin,
      sim,
      cp,
      agentToken: agent.token,
      workspacePolicy,
      dataDir,
      dir,
      logger,
      stop: async () => {
        await admin.close();
        await c.stop().catch(() => {});
        await s.stop().catch(() => {});
        await cluster.stop().catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cp?.stop().catch(() => {});
    await sim?.stop().catch(() => {});
    await cluster.stop().catch(() => {});
    throw err;
  }
}

export interface Workspace {
  id: string;
  namespace: string;
  kubeconfig: string;
  credential: WorkspaceCredential;
}

/** Mints a workspace credential the way the agent does (with the agent's token). */
export async function mintCredential(env: Env, workspaceId: string): Promise<WorkspaceCredential> {
  const dispatcher = createDispatcher({ proxy: {} });
  try {
    return await requestWorkspaceCredential(
      { baseUrl: env.cp.url, dispatcher, tokens: new StaticTokenSource(env.agentToken) },
      AGENT_ID,
      workspaceId,
    );
  } finally {
    await dispatcher.close();
  }
}

/** Writes the credential Secret as the agent maintains it. */
export async function writeCredentialSecret(env: Env, ns: string, c: WorkspaceCredential): Promise<void> {
  const b64 = (v: string) => Buffer.from(v).toString("base64");
  await apply(env, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "meridian-workspace-credential", namespace: ns },
    data: { token: b64(c.token), expiresAt: b64(c.expiresAt), workspaceId: b64(c.workspaceId) },
  } as never);
}

/** What the agent creates for a workspace, and the workspace in the control plane. */
export async function createWorkspace(env: Env, id: string): Promise<Workspace> {
  const namespace = `mw-${id}`;
  await env.cp.admin.putWorkspace(AGENT_ID, id, { quota: { cpu: "16", memory: "32Gi" } });
  for (const obj of workspaceAgentRbac(namespace, id)) await apply(env, obj);
  const credential = await mintCredential(env, id);
  await writeCredentialSecret(env, namespace, credential);
  const kubeconfig = await env.cluster.serviceAccountKubeconfig(namespace, "meridian-workspace-agent");
  await confined(env, namespace, kubeconfig);
  return { id, namespace, kubeconfig, credential };
}

/** Resolves once the confinement policy refuses this workspace agent an object that is not its own. */
async function confined(env: Env, namespace: string, kubeconfig: string): Promise<void> {
  const ws = await createKubeClient({ kubeconfig });
  try {
    const probe = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "meridian-confinement-probe" } };
    await waitUntilEnforced(env.workspacePolicy, () =>
      tryWrite(ws, "POST", `/api/v1/namespaces/${namespace}/configmaps`, probe, { dryRun: true }),
    );
  } finally {
    await ws.close();
  }
}

const TYPES: Record<string, ResourceType> = {
  Namespace: NAMESPACES,
  ServiceAccount: SERVICE_ACCOUNTS,
  Role: ROLES,
  RoleBinding: ROLE_BINDINGS,
  ClusterRole: CLUSTER_ROLES,
  Secret: SECRETS,
};

/** Server-side apply as the agent (admin credentials). */
export async function apply(env: Env, obj: { kind: string; metadata: { name: string } }): Promise<void> {
  const type = TYPES[obj.kind];
  if (!type) throw new Error(`the harness cannot apply a ${obj.kind}`);
  await applyObject(env.admin, type, obj as never, { fieldManager: "meridian-agent", force: true });
}

export function agentConfig(
  env: Env,
  ws: Workspace,
  over: Partial<WorkspaceAgentConfig> = {},
): WorkspaceAgentConfig {
  return {
    controlPlaneUrl: env.cp.url,
    workspaceId: ws.id,
    namespace: ws.namespace,
    podName: `wsa-${ws.id}`,
    healthAddr: "127.0.0.1:0",
    credentialSecret: "meridian-workspace-credential",
    logLevel: "info",
    caFile: undefined,
    // The reference control plane signs with the test key: the suite runs signed.
    signingPublicKeys: new PinnedKeys([parsePublicKey(TEST_SIGNING_PUBLIC_KEY)]),
    proxy: {},
    flinkAllowedRegistries: ALLOWED_REGISTRIES,
    flinkAllowedJarURIs: [],
    savepointBaseDir: undefined,
    storageBaseURI: undefined,
    storageCredentialsSecret: undefined,
    storageS3Endpoint: undefined,
    storageS3PathStyleAccess: false,
    flinkServiceAccount: undefined,
    flinkAzureClientId: undefined,
    flinkAzureTenantId: undefined,
    flinkImagePullSecrets: [],
    flinkPodTemplateAllowInitContainers: true,
    flinkPodTemplateAllowSidecars: true,
    flinkDefaultPodTemplate: undefined,
    kubeconfig: ws.kubeconfig,
    flinkPollIntervalMs: 1000,
    flinkRequestTimeoutMs: 3000,
    statusIntervalMs: 2000,
    kubeConcurrency: 8,
    orphanGracePeriodSeconds: 86_400,
    ...over,
  };
}

export function startAgent(
  env: Env,
  ws: Workspace,
  over: Partial<WorkspaceAgentConfig> = {},
  overrides: WorkspaceAgentOverrides = {},
): Promise<WorkspaceAgent> {
  return startWorkspaceAgent(agentConfig(env, ws, over), {
    logger: env.logger.child({ workspace: ws.id }),
    restUrl: podIpRestUrl,
    processMetrics: false,
    resyncMs: 10_000,
    ...overrides,
  });
}

/** Polls `fn` until it returns a value other than undefined/false; fails naming `what` and the last value. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function describe(v: unknown): string {
  if (v instanceof Error) return v.message;
  try {
    return JSON.stringify(v)?.slice(0, 2000) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Write requests (apply, create, patch, delete, update) the agent sent, from its /metrics. */
export async function writeRequests(agent: WorkspaceAgent): Promise<number> {
  const text = await (await fetch(`${agent.healthUrl}/metrics`)).text();
  return [
    ...text.matchAll(
      /^meridian_workspace_agent_kube_requests_total\{verb="(apply|create|patch|delete|update)",code="\d+"\} (\d+)/gm,
    ),
  ]
    .map((m) => Number(m[2]))
    .reduce((x, y) => x + y, 0);
}

/** The deployment's status as the control plane last received it. */
export function reported(env: Env, ws: Workspace, name: string): Promise<DeploymentStatus | null> {
  return env.cp.admin.getDeploymentStatus(ws.id, name);
}

export function condition(s: DeploymentStatus | null | undefined, type: string) {
  return s?.conditions.find((c) => c.type === type);
}

/** Admin GET of a JSON list/object. */
export async function kubeGet<T = Record<string, unknown>>(env: Env, path: string): Promise<T | undefined> {
  const r = await env.cluster.request("GET", path);
  if (r.status === 404) return undefined;
  if (r.status >= 300) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

export interface PodLite {
  metadata: { name: string; uid: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  status?: { phase?: string; podIP?: string };
}

export async function podsOf(env: Env, ns: string, deployment: string): Promise<PodLite[]> {
  const l = await kubeGet<{ items: PodLite[] }>(
    env,
    `/api/v1/namespaces/${ns}/pods?labelSelector=meridian.dev/deployment%3D${deployment}`,
  );
  return l?.items ?? [];
}
