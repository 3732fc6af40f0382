// The agent → workspace agent contract, both sides as they ship: the agent's settings are loaded, the
// workspace agent Deployment the agent builds from them is rendered, its container's environment is
// resolved as the kubelet resolves it (downward API values from a sample pod, `$(VAR)` expanded in
// order) and the workspace agent's own CLI loads it with its settings table. A variable renamed,
// dropped, reordered or given a value the workspace agent refuses, on either side, fails here.
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { test } from "node:test";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { WORKSPACE_AGENT_ENV } from "@meridian/shared/contract/workspace-agent-env";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { publicKeyText } from "@meridian/shared/protocol/signing";
import { loadConfig as loadAgentConfig } from "../../agent/src/config.ts";
import { workspaceBuildContext } from "../../agent/src/workspace/build-context.ts";
import { desiredObjects, NAMES, namespaceName } from "../../agent/src/workspace/objects.ts";
import { buildCli } from "../../workspace-agent/src/cli.ts";
import {
  SETTINGS as WORKSPACE_AGENT_SETTINGS,
  type WorkspaceAgentConfig,
} from "../../workspace-agent/src/config.ts";
import { resolveContainerEnv } from "../cluster/node-simulator/env.ts";
import { testSigningKey } from "../control-plane/signing.ts";

const POD_IP = "10.244.1.7";
const SIGNING_PEM = createPublicKey(testSigningKey(1)).export({ format: "pem", type: "spki" }).toString();
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const files: Record<string, string> = {
  "/var/run/meridian/token": "agent-token\n",
  "/etc/meridian/ca/ca.crt": PEM,
  "/etc/meridian/policy/policy.yaml":
    "allowedRegistries:\n  flink: [docker.io/library/flink, registry.example.com/flink]\norphanGracePeriodSeconds: 3600\n" +
    "storage:\n  s3: {endpoint: 'https://minio.example.com:9000', pathStyleAccess: true}\n" +
    "podTemplates: {allowInitContainers: false}\n",
};
const readFile = (p: string) => {
  const f = files[p];
  if (f === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
  return f;
};
const required = {
  controlPlaneUrl: "https://cp.example.com/",
  agentId: "cluster-1",
  tokenFile: "/var/run/meridian/token",
  namespace: "meridian-system",
  podName: "meridian-agent-0",
};
const everything = {
  ...required,
  caFile: "/etc/meridian/ca/ca.crt",
  policyFile: "/etc/meridian/policy/policy.yaml",
  logLevel: "warn",
  httpsProxy: "http://meridian:proxy-pass-0123@proxy.example.com:3128",
  noProxy: ".svc,10.0.0.0/8",
  savepointBaseDir: "s3://bucket/savepoints/",
  workspaceAgentPullSecrets: "regcred,mirror",
  // Two pinned keys (a rotation), one as PEM and one as the base64 of its raw bytes.
  signingPublicKeys: `${SIGNING_PEM},${publicKeyText(testSigningKey(2))}`,
};

/** The workspace agent pod of one workspace, as the agent renders it and the kubelet runs it. */
async function workspaceAgentPod(flags: Record<string, string>, specOverrides: Record<string, unknown> = {}) {
  const agent = loadAgentConfig({ flags, env: {}, readFile });
  const spec = workspaceSpec.parse({
    id: "team-a",
    generation: 1,
    quota: { cpu: "4", memory: "8Gi" },
    ...specOverrides,
  });
  const ns = namespaceName(agent.policy.namespacePrefix, spec.id);
  const ctx = { ...workspaceBuildContext(agent), image: agent.workspaceAgentImage, proxyRevision: "r1" };
  const objects = desiredObjects(spec, ctx);
  const deployment = objects.find((o) => o.type.kind === "Deployment")?.object as {
    spec: { template: V1Pod };
  };
  // The Secrets the agent writes into the namespace, as the kubelet would read them.
  const secrets = new Map(
    objects
      .filter((o) => o.type.kind === "Secret")
      .map((o) => [
        `${o.object.metadata?.namespace}/${o.object.metadata?.name}`,
        Object.fromEntries(
          Object.entries((o.object.data ?? {}) as Record<string, string>).map(([k, v]) => [
            k,
            Buffer.from(v, "base64").toString("utf8"),
          ]),
        ),
      ]),
  );
  const template = deployment.spec.template;
  const pod: V1Pod = {
    metadata: { ...template.metadata, name: `${NAMES.deployment}-7d9f8b6c5-x2x4z`, namespace: ns },
    spec: template.spec,
  };
  const container = pod.spec?.containers.find((c) => c.name === NAMES.container) as V1Container;
  const resolved = resolveContainerEnv({
    pod,
    container,
    podIP: POD_IP,
    hostIP: "192.168.0.10",
    sources: { configMap: () => undefined, secret: (namespace, name) => secrets.get(`${namespace}/${name}`) },
  });
  assert.ok(resolved.ok, resolved.ok ? "" : resolved.error);
  return { agent, ns, pod, container, env: resolved.env, deployment };
}

/** What the workspace agent's `run` loads from that environment and the container's args. */
async function workspaceAgentConfig(container: V1Container, env: Record<string, string>) {
  let loaded: WorkspaceAgentConfig | undefined;
  const errors: string[] = [];
  const before = process.exitCode;
  await buildCli({
    env,
    run: async (c) => {
      loaded = c;
    },
    err: (t) => errors.push(t),
  }).parseAsync(["node", "meridian-workspace-agent", ...(container.args ?? [])]);
  process.exitCode = before;
  assert.ok(loaded, `the workspace agent refused its environment: ${errors.join("")}`);
  return loaded;
}

/** A workspace with storage and both identities: what sets the optional storage variables. */
const STORED = {
  storage: { baseURI: "s3://acme-state/flink/team-a", credentialsSecret: "s3-keys" },
  identity: {
    awsRoleArn: "arn:aws:iam::123456789012:role/flink",
    azureClientId: "11111111-2222-3333-4444-555555555555",
    azureTenantId: "aaaaaaaa-2222-3333-4444-555555555555",
  },
  flinkPodTemplate: {
    metadata: { labels: { team: "a" } },
    spec: { containers: [{ name: "flink-main-container", env: [{ name: "TEAM", value: "a" }] }] },
  },
};

test("everything the agent passes on arrives in the workspace agent's settings", async () => {
  const { agent, ns, pod, container, env } = await workspaceAgentPod(everything, STORED);
  const c = await workspaceAgentConfig(container, env);
  assert.equal(c.controlPlaneUrl, agent.controlPlaneUrl);
  assert.equal(c.workspaceId, "team-a");
  assert.equal(c.namespace, ns);
  assert.equal(c.podName, pod.metadata?.name);
  assert.equal(c.healthAddr, `${POD_IP}:8080`);
  assert.equal(c.credentialSecret, NAMES.secret);
  assert.equal(c.logLevel, "warn");
  assert.deepEqual(c.flinkAllowedRegistries, ["docker.io/library/flink", "registry.example.com/flink"]);
  assert.equal(c.orphanGracePeriodSeconds, 3600);
  assert.equal(c.savepointBaseDir, "s3://bucket/savepoints");
  assert.equal(c.storageBaseURI, "s3://acme-state/flink/team-a");
  assert.equal(c.storageCredentialsSecret, "s3-keys");
  assert.equal(c.storageS3Endpoint, "https://minio.example.com:9000");
  assert.equal(c.storageS3PathStyleAccess, true);
  assert.equal(c.flinkServiceAccount, "meridian-flink");
  assert.equal(c.flinkAzureClientId, "11111111-2222-3333-4444-555555555555");
  assert.equal(c.flinkAzureTenantId, "aaaaaaaa-2222-3333-4444-555555555555");
  assert.deepEqual(c.flinkImagePullSecrets, ["regcred", "mirror"]);
  assert.deepEqual(c.signingPublicKeys.ids(), agent.signingPublicKeys.ids(), "the pinned keys");
  assert.equal(c.signingPublicKeys.size, 2);
  assert.deepEqual(pod.spec?.imagePullSecrets, [{ name: "regcred" }, { name: "mirror" }]);
  assert.equal(c.flinkPodTemplateAllowInitContainers, false);
  assert.equal(c.flinkPodTemplateAllowSidecars, true);
  assert.deepEqual(
    c.flinkDefaultPodTemplate,
    STORED.flinkPodTemplate,
    "the workspace's default pod template",
  );
  assert.deepEqual(c.proxy, {
    httpsProxy: "http://meridian:proxy-pass-0123@proxy.example.com:3128",
    noProxy: ".svc,10.0.0.0/8",
  });
  // The CA bundle: the file the variable names is the key the mounted ConfigMap holds.
  assert.ok(c.caFile, "no MERIDIAN_CA_FILE");
  const mount = container.volumeMounts?.find((m) => c.caFile?.startsWith(`${m.mountPath}/`));
  const volume = pod.spec?.volumes?.find((v) => v.name === mount?.name);
  assert.equal(volume?.configMap?.name, NAMES.caConfigMap, `nothing mounted at ${c.caFile}`);
  assert.equal(c.caFile, `${mount?.mountPath}/ca.crt`);
  // The probes ask the port the workspace agent listens on.
  assert.equal(container.readinessProbe?.httpGet?.port, Number(c.healthAddr.split(":").at(-1)));
});

test("a workspace's own log level wins; with nothing optional configured the workspace agent starts on defaults", async () => {
  const { container, env } = await workspaceAgentPod(required, { workspaceAgent: { logLevel: "debug" } });
  const c = await workspaceAgentConfig(container, env);
  assert.equal(c.logLevel, "debug");
  assert.equal(c.caFile, undefined);
  assert.equal(c.savepointBaseDir, undefined);
  assert.deepEqual(c.flinkAllowedRegistries, []);
  assert.equal(c.orphanGracePeriodSeconds, 86_400);
  assert.deepEqual(c.proxy, {});
  assert.equal(c.signingPublicKeys.size, 0, "nothing pinned, nothing verified");
});

test("a variable the contract takes from a Secret is never a plain value in the Deployment", async () => {
  const { container, deployment } = await workspaceAgentPod(everything, STORED);
  for (const v of Object.values(WORKSPACE_AGENT_ENV)) {
    const e = container.env?.find((x) => x.name === v.name);
    if (!("secret" in v) || !e) continue;
    assert.equal(e.value, undefined, `${v.name} is set by value`);
    assert.deepEqual(e.valueFrom?.secretKeyRef, v.secret, `${v.name} does not come from its Secret`);
  }
  assert.ok(
    !JSON.stringify(deployment).includes("proxy-pass-0123"),
    "the proxy password is in the Deployment",
  );
});

test("every variable the agent sets is in the contract and read by the workspace agent", async () => {
  const { container } = await workspaceAgentPod(everything, STORED);
  const set = (container.env ?? []).map((e) => e.name);
  const contract = Object.values(WORKSPACE_AGENT_ENV).map((v) => v.name);
  assert.deepEqual(
    [...set].sort(),
    [...contract].sort(),
    "the Deployment and the contract list other variables",
  );
  const read = new Set(WORKSPACE_AGENT_SETTINGS.flatMap((s) => (s.env ? [s.env] : [])));
  // POD_IP is only for $(POD_IP); the proxy variables are read by proxySettingsFromEnv.
  const notSettings = new Set(["POD_IP", "HTTPS_PROXY", "NO_PROXY"]);
  assert.deepEqual(
    set.filter((n) => !read.has(n) && !notSettings.has(n)),
    [],
    "variables the workspace agent's settings table does not read",
  );
  // Downward API values come before their use in $(...).
  assert.ok(set.indexOf(WORKSPACE_AGENT_ENV.podIp.name) < set.indexOf(WORKSPACE_AGENT_ENV.healthAddr.name));
});

test("a value the workspace agents would refuse stops the agent instead of every workspace agent", () => {
  assert.throws(
    () =>
      loadAgentConfig({ flags: { ...required, savepointBaseDir: "/data/savepoints" }, env: {}, readFile }),
    /setting --savepoint-base-dir \/ MERIDIAN_SAVEPOINT_BASE_DIR \(from flag: "\/data\/savepoints"\): must be a URI with a scheme/,
  );
});
