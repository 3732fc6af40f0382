import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { parse } from "yaml";
import type { BuildContext } from "./build-context.ts";
import { DEFAULT_POD_SECURITY } from "./hardening.ts";
import {
  buildCredentialSecret,
  buildDeployment,
  buildNamespace,
  desiredObjects,
  NAMES,
  type PolicyRule,
  recordedGeneration,
  workspaceIdOf,
} from "./objects.ts";
import { buildProxySecret, proxyRevision } from "./proxy-secret.ts";
import {
  DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT,
  workspaceAgentSecurityContextSetting,
} from "./security-context.ts";

const spec = workspaceSpec.parse({ id: "team-a", generation: 3, quota: { cpu: "4", memory: "8Gi" } });
const ctx: BuildContext = {
  namespacePrefix: "mw-",
  clusterRoles: {
    workspaceAgent: "meridian-agent-workspace-agent",
    flink: "meridian-agent-flink",
    drain: "meridian-agent-drain",
    agent: { namespace: "meridian-system", name: "meridian-agent" },
  },
  image: "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0",
  pullPolicy: "IfNotPresent",
  pullSecrets: [],
  controlPlaneUrl: "https://cp.example.com",
  logLevel: "info",
  caPem: undefined,
  httpsProxy: undefined,
  noProxy: undefined,
  flinkAllowedRegistries: ["docker.io/library/flink"],
  flinkAllowedJarURIs: ["s3://acme-jobs/releases", "https://artifacts.acme.example/flink"],
  orphanGracePeriodSeconds: 3600,
  savepointBaseDir: undefined,
  securityContext: DEFAULT_WORKSPACE_AGENT_SECURITY_CONTEXT,
};

// biome-ignore lint/suspicious/noExplicitAny: tests navigate built objects freely
type Obj = Record<string, any>;

test("every object is named and labelled per the contract, Namespace first", () => {
  const objs = desiredObjects(spec, ctx);
  assert.deepEqual(
    objs.map((o) => `${o.type.kind}/${o.object.metadata?.name}`),
    [
      "Namespace/mw-team-a",
      "ServiceAccount/meridian-workspace-agent",
      "ServiceAccount/meridian-flink",
      "RoleBinding/meridian-workspace-agent",
      "RoleBinding/meridian-flink",
      "RoleBinding/meridian-agent-drain",
      "ResourceQuota/meridian-workspace-quota",
      "LimitRange/meridian-workspace-limits",
      "NetworkPolicy/meridian-default-deny",
      "NetworkPolicy/meridian-deny-cross-namespace",
      "NetworkPolicy/meridian-workspace-agent-egress",
      "Deployment/meridian-workspace-agent",
    ],
  );
  for (const o of objs) {
    const labels = o.object.metadata?.labels ?? {};
    assert.equal(labels["app.kubernetes.io/part-of"], "meridian");
    assert.equal(labels["app.kubernetes.io/managed-by"], "meridian-agent");
    assert.equal(labels["meridian.dev/workspace"], "team-a");
    if (o.type.namespaced) assert.equal(o.object.metadata?.namespace, "mw-team-a");
  }
  assert.equal(workspaceIdOf("mw-", "mw-team-a"), "team-a");
  assert.equal(workspaceIdOf("mw-", "kube-system"), undefined);
  const withCa = desiredObjects(spec, { ...ctx, caPem: "PEM" });
  assert.ok(withCa.some((o) => o.object.metadata?.name === NAMES.caConfigMap));
});

test("the Deployment runs hardened with probes, resources and the contract's environment", () => {
  const d = buildDeployment(spec, "mw-team-a", {
    ...ctx,
    caPem: "PEM",
    httpsProxy: "http://p:3128",
    pullSecrets: ["regcred"],
    podTemplates: { allowInitContainers: false, allowSidecars: true },
  }) as Obj;
  const pod = d.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(d.spec.replicas, 1);
  assert.equal(c.name, "workspace-agent");
  assert.deepEqual(c.args, ["run"]);
  assert.equal(pod.serviceAccountName, "meridian-workspace-agent");
  assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.runAsNonRoot, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.seccompProfile.type, "RuntimeDefault");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
  assert.equal(c.readinessProbe.httpGet.port, 8080);
  assert.equal(c.livenessProbe.httpGet.port, 8080);
  const env = Object.fromEntries(
    c.env.map((e: Obj) => {
      const ref = e.valueFrom?.secretKeyRef;
      return [
        e.name,
        e.value ?? (ref ? `secret:${ref.name}/${ref.key}` : `field:${e.valueFrom.fieldRef.fieldPath}`),
      ];
    }),
  );
  assert.deepEqual(env, {
    MERIDIAN_CONTROL_PLANE_URL: "https://cp.example.com",
    MERIDIAN_WORKSPACE_ID: "team-a",
    MERIDIAN_NAMESPACE: "field:metadata.namespace",
    MERIDIAN_POD_NAME: "field:metadata.name",
    POD_IP: "field:status.podIP",
    MERIDIAN_HEALTH_ADDR: "$(POD_IP):8080",
    MERIDIAN_CREDENTIAL_SECRET: "meridian-workspace-credential",
    MERIDIAN_LOG_LEVEL: "info",
    MERIDIAN_FLINK_ALLOWED_REGISTRIES: "docker.io/library/flink",
    MERIDIAN_FLINK_SERVICE_ACCOUNT: "meridian-flink",
    MERIDIAN_FLINK_ALLOWED_JAR_URIS: "s3://acme-jobs/releases,https://artifacts.acme.example/flink",
    MERIDIAN_ORPHAN_GRACE_PERIOD_SECONDS: "3600",
    MERIDIAN_FLINK_POD_TEMPLATE_ALLOW_INIT_CONTAINERS: "false",
    MERIDIAN_FLINK_POD_TEMPLATE_ALLOW_SIDECARS: "true",
    MERIDIAN_FLINK_IMAGE_PULL_SECRETS: "regcred",
    MERIDIAN_CA_FILE: "/etc/meridian/ca/ca.crt",
    HTTPS_PROXY: "secret:meridian-workspace-proxy/httpsProxy",
  });
  assert.deepEqual(pod.imagePullSecrets, [{ name: "regcred" }]);
  const names = c.env.map((e: Obj) => e.name);
  assert.ok(names.indexOf("POD_IP") < names.indexOf("MERIDIAN_HEALTH_ADDR"));
});

test("the Deployment carries the security contexts the setting gives (OpenShift: no fixed uid)", () => {
  const openShift = {
    pod: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    container: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
  };
  const securityContext = workspaceAgentSecurityContextSetting.parse(JSON.stringify(openShift));
  const pod = (buildDeployment(spec, "mw-team-a", { ...ctx, securityContext }) as Obj).spec.template.spec;
  assert.deepEqual(pod.securityContext, openShift.pod);
  assert.deepEqual(pod.containers[0].securityContext, openShift.container);
  const objs = desiredObjects(spec, { ...ctx, securityContext });
  const deployment = objs.find((o) => o.type.kind === "Deployment")?.object as Obj;
  assert.equal(JSON.stringify(deployment).includes("10001"), false, "a hard-coded uid is left");
});

test("the Secret holds token, expiresAt and workspaceId; the namespace can carry the orphan mark", () => {
  const s = buildCredentialSecret(
    "team-a",
    "mw-team-a",
    { workspaceId: "team-a", token: "t".repeat(20), expiresAt: "2030-01-01T00:00:00.000Z" },
    "2029-12-31T23:45:00.000Z",
  ) as Obj;
  const dec = (k: string) => Buffer.from(s.data[k], "base64").toString();
  assert.equal(dec("token"), "t".repeat(20));
  assert.equal(dec("expiresAt"), "2030-01-01T00:00:00.000Z");
  assert.equal(dec("workspaceId"), "team-a");
  const ns = buildNamespace("team-a", "mw-", {
    orphanedSince: "2030-01-01T00:00:00Z",
    podSecurity: DEFAULT_POD_SECURITY,
  }) as Obj;
  assert.equal(ns.metadata.annotations["meridian.dev/orphaned-since"], "2030-01-01T00:00:00Z");
});

const CHART_FILES = new URL("../../../helm/meridian-agent/files/", import.meta.url);
const chartRules = (file: string) => parse(readFileSync(new URL(file, CHART_FILES), "utf8")) as PolicyRule[];

test("the RoleBindings reference the chart's ClusterRoles; the agent holds none of their rules, only bind on them", () => {
  const clusterRoles = {
    workspaceAgent: "rel-meridian-agent-workspace-agent",
    flink: "rel-meridian-agent-flink",
    drain: "rel-meridian-agent-drain",
    agent: { namespace: "meridian", name: "rel-meridian-agent" },
  };
  const bindings = desiredObjects(spec, { ...ctx, clusterRoles })
    .filter((o) => o.type.kind === "RoleBinding")
    .map((o) => o.object as Obj);
  assert.deepEqual(
    bindings.map((b) => [
      b.metadata.name,
      b.roleRef.kind,
      b.roleRef.name,
      b.subjects[0].name,
      b.subjects[0].namespace,
    ]),
    [
      [
        "meridian-workspace-agent",
        "ClusterRole",
        clusterRoles.workspaceAgent,
        "meridian-workspace-agent",
        "mw-team-a",
      ],
      ["meridian-flink", "ClusterRole", clusterRoles.flink, "meridian-flink", "mw-team-a"],
      // The agent itself, for the deletion drain's ConfigMap reads in this namespace only.
      ["meridian-agent-drain", "ClusterRole", clusterRoles.drain, "rel-meridian-agent", "meridian"],
    ],
  );
  assert.ok(!desiredObjects(spec, ctx).some((o) => o.type.kind === "Role"), "no per-namespace Role any more");
  const agent = chartRules("agent-clusterrole-rules.yaml");
  // Without a name, the agent holds only namespaces and Events: no ConfigMaps, pods, services or pod
  // logs anywhere (the drain reads ConfigMaps through meridian-agent-drain, per namespace).
  const unnamed = agent
    .filter((r) => !r.resourceNames && r.apiGroups.includes(""))
    .flatMap((r) => r.resources.map((res) => `${res}:${r.verbs.join(",")}`));
  assert.deepEqual(unnamed.sort(), ["events:create,patch", "namespaces:get,list,watch,create,patch,delete"]);
  const granted = [
    ...chartRules("workspace-agent-clusterrole-rules.yaml"),
    ...chartRules("flink-clusterrole-rules.yaml"),
    ...chartRules("agent-drain-clusterrole-rules.yaml"),
  ];
  for (const r of granted)
    for (const res of r.resources)
      for (const v of r.verbs) {
        if (res === "events") continue;
        const held = agent.some(
          (a) =>
            a.apiGroups.includes("") && a.resources.includes(res) && a.verbs.includes(v) && !a.resourceNames,
        );
        assert.ok(!held, `the agent holds ${v} ${res} in every namespace, which it only grants`);
      }
  // bind on exactly the three ClusterRoles, by name: the chart adds the rule (the names follow the release).
  const template = readFileSync(new URL("../templates/clusterrole.yaml", CHART_FILES), "utf8");
  assert.match(
    template,
    /resources: \["clusterroles"\]\n\s+resourceNames:\n\s+- \{\{ include "meridian-agent.workspaceAgentClusterRole" \. \}\}\n\s+- \{\{ include "meridian-agent.flinkClusterRole" \. \}\}\n\s+- \{\{ include "meridian-agent.drainClusterRole" \. \}\}\n\s+verbs: \["bind"\]/,
  );
  assert.ok(!agent.some((a) => a.resources.includes("clusterroles") || a.verbs.includes("escalate")));
  assert.deepEqual(
    granted.find((r) => r.resources.includes("secrets")),
    {
      apiGroups: [""],
      resources: ["secrets"],
      resourceNames: ["meridian-workspace-credential"],
      verbs: ["get", "watch"],
    },
  );
});

test("a proxy URL (it may carry a password) reaches the workspace agent through a Secret, never the Deployment", () => {
  const url = "http://meridian:s3cr3t-proxy-pass@proxy.corp:3128";
  const objs = desiredObjects(spec, { ...ctx, httpsProxy: url, proxyRevision: "4f2a" });
  const names = objs.map((o) => `${o.type.kind}/${o.object.metadata?.name}`);
  assert.ok(
    names.indexOf("Secret/meridian-workspace-proxy") ===
      names.indexOf("Deployment/meridian-workspace-agent") - 1,
    `the proxy Secret comes just before the Deployment: ${names.join(", ")}`,
  );
  const secret = objs.find((o) => o.object.metadata?.name === "meridian-workspace-proxy")?.object as Obj;
  assert.equal(Buffer.from(secret.data.httpsProxy, "base64").toString(), url);
  assert.equal(secret.metadata.annotations["meridian.dev/proxy-revision"], "4f2a");
  assert.equal(secret.metadata.labels["app.kubernetes.io/managed-by"], "meridian-agent");
  const deployment = objs.find((o) => o.type.kind === "Deployment")?.object as Obj;
  const text = JSON.stringify(deployment);
  for (const part of [url, "s3cr3t-proxy-pass", Buffer.from(url).toString("base64")])
    assert.ok(!text.includes(part), "the Deployment carries the proxy URL or its password");
  // A new revision (the URL changed) changes the pod template, so the workspace agent restarts with it.
  assert.equal(deployment.spec.template.metadata.annotations["meridian.dev/proxy-revision"], "4f2a");
  // Without a proxy: no Secret, no variable, no annotation.
  const none = desiredObjects(spec, ctx);
  assert.ok(!none.some((o) => o.object.metadata?.name === "meridian-workspace-proxy"));
  const plain = none.find((o) => o.type.kind === "Deployment")?.object as Obj;
  assert.equal(plain.spec.template.metadata.annotations, undefined);
  assert.ok(!plain.spec.template.spec.containers[0].env.some((e: Obj) => e.name === "HTTPS_PROXY"));
});

test("the proxy revision stays while the Secret holds the same URL and changes with the URL", () => {
  const url = "http://u:p@proxy:3128";
  const held = buildProxySecret("team-a", "mw-team-a", url, "aaaa");
  assert.equal(
    proxyRevision(held, url, () => "bbbb"),
    "aaaa",
  );
  assert.equal(
    proxyRevision(held, "http://u:other@proxy:3128", () => "bbbb"),
    "bbbb",
  );
  assert.equal(
    proxyRevision(undefined, url, () => "cccc"),
    "cccc",
  );
  assert.equal(proxyRevision(held, undefined), undefined);
  const unannotated = { ...held, metadata: { ...held.metadata, annotations: {} } };
  assert.equal(
    proxyRevision(unannotated, url, () => "dddd"),
    "dddd",
  );
  assert.match(proxyRevision(undefined, url) ?? "", /^[0-9a-f]{16}$/);
});

test("the namespace records the generation applied, and the orphan mark keeps it", () => {
  const ns = desiredObjects(spec, ctx)[0]?.object as Obj;
  assert.equal(ns.metadata.annotations["meridian.dev/generation"], "3");
  assert.equal(recordedGeneration(ns), 3);
  const marked = buildNamespace("team-a", "mw-", {
    orphanedSince: "2030-01-01T00:00:00Z",
    generation: 3,
    podSecurity: DEFAULT_POD_SECURITY,
  });
  assert.equal(recordedGeneration(marked), 3);
  for (const bad of ["", "0", "-1", "1e3", "abc", "99999999999999999"])
    assert.equal(
      recordedGeneration({ metadata: { annotations: { "meridian.dev/generation": bad } } }),
      undefined,
    );
});
