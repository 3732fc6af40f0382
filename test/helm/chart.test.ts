// The chart with the real Helm 4 binary, no cluster: lint, what each value set renders, and the
// value sets the chart must refuse with a message that says what to change. The API server's verdict
// on the rendered manifests is in chart-apiserver.test.ts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import {
  agentEnv,
  CHART_DIR,
  helm,
  NAMESPACE,
  one,
  render,
  VALUE_SETS,
  VALUES_DIR,
  valueArgs,
} from "./helm.ts";
import { HELM_MAJOR, helmBinary, helmVersion } from "./helm-binary.ts";

const CLUSTER_SCOPED = new Set([
  "ClusterRole",
  "ClusterRoleBinding",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
]);
const rulesFile = (name: string): unknown => parse(readFileSync(join(CHART_DIR, "files", name), "utf8"));

test(`the extracted helm is ${HELM_MAJOR}.x`, async () => {
  assert.match(await helmVersion(await helmBinary()), new RegExp(`^v${HELM_MAJOR}\\.`));
});

describe("helm lint --strict", () => {
  for (const set of VALUE_SETS) {
    test(set, async () => {
      const res = await helm(["lint", "--strict", CHART_DIR, "--namespace", NAMESPACE, ...valueArgs([set])]);
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe("every value set renders labelled objects in the release namespace", () => {
  for (const set of VALUE_SETS) {
    test(set, async () => {
      for (const m of await render([set])) {
        const where = `${m.kind} ${m.metadata.name}`;
        assert.equal(m.metadata.labels?.["app.kubernetes.io/part-of"], "meridian", where);
        assert.equal(m.metadata.labels?.["app.kubernetes.io/managed-by"], "Helm", where);
        assert.equal(m.metadata.labels?.["app.kubernetes.io/instance"], "meridian-agent", where);
        assert.equal(m.metadata.namespace, CLUSTER_SCOPED.has(m.kind) ? undefined : NAMESPACE, where);
      }
    });
  }
});

describe("defaults (+ the required values)", async () => {
  const manifests = await render(["defaults"]);
  const deploy = one(manifests, "Deployment");
  const pod = deploy.spec.template.spec;
  const container = pod.containers[0];

  test("render one object per kind (three confinement policies, the three workspace ClusterRoles, the Lease's and the credential's Role), no ServiceMonitor and no NetworkPolicy", () => {
    assert.deepEqual(manifests.map((m) => m.kind).sort(), [
      "ClusterRole",
      "ClusterRole",
      "ClusterRole",
      "ClusterRole",
      "ClusterRoleBinding",
      "ConfigMap",
      "Deployment",
      "PodDisruptionBudget",
      "Role",
      "Role",
      "RoleBinding",
      "RoleBinding",
      "Secret",
      "Service",
      "ServiceAccount",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
      "ValidatingAdmissionPolicyBinding",
      "ValidatingAdmissionPolicyBinding",
    ]);
  });

  test("run two leader-elected replicas with secure defaults", () => {
    assert.equal(deploy.spec.replicas, 2);
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
    assert.equal(one(manifests, "ServiceAccount").automountServiceAccountToken, false);
    assert.equal(pod.automountServiceAccountToken, true, "the agent itself needs the API");
    assert.equal(pod.serviceAccountName, one(manifests, "ServiceAccount").metadata.name);
    assert.equal(one(manifests, "PodDisruptionBudget").spec.minAvailable, 1);
  });

  test("pass the agent its config through the contract's env, probes and policy file", () => {
    const env = agentEnv(manifests);
    assert.equal(env.MERIDIAN_HEALTH_ADDR, "$(POD_IP):8080");
    const names = container.env.map((e: { name: string }) => e.name);
    assert.ok(names.indexOf("POD_IP") < names.indexOf("MERIDIAN_HEALTH_ADDR"), "POD_IP must come first");
    assert.equal(env.MERIDIAN_CONTROL_PLANE_URL, "https://control.meridian.example.com");
    assert.equal(env.MERIDIAN_AGENT_ID, "cluster-eu-1");
    assert.equal(env.MERIDIAN_WORKSPACE_AGENT_IMAGE, "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0");
    assert.equal(container.image, "ghcr.io/meridian-dev/meridian-agent:0.1.0");
    assert.equal(container.args[0], "run");
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    const policyArg = (container.args as string[]).find((a) => a.startsWith("--policy-file="));
    const mount = container.volumeMounts.find((v: { name: string }) => v.name === "policy");
    assert.equal(policyArg, `--policy-file=${mount.mountPath}/policy.yaml`);
    assert.equal(JSON.stringify(container.env).includes("test-token-not-a-secret"), false, "token in env");
  });

  test("template the RBAC rules from files/, never a copy", () => {
    // The agent's: the file's rules, then bind on the three workspace ClusterRoles by name (decision 53).
    assert.deepEqual(one(manifests, "ClusterRole", "meridian-agent").rules, [
      ...(rulesFile("agent-clusterrole-rules.yaml") as unknown[]),
      {
        apiGroups: ["rbac.authorization.k8s.io"],
        resources: ["clusterroles"],
        resourceNames: ["meridian-agent-workspace-agent", "meridian-agent-flink", "meridian-agent-drain"],
        verbs: ["bind"],
      },
    ]);
    assert.deepEqual(
      one(manifests, "ClusterRole", "meridian-agent-workspace-agent").rules,
      rulesFile("workspace-agent-clusterrole-rules.yaml"),
    );
    assert.deepEqual(
      one(manifests, "ClusterRole", "meridian-agent-flink").rules,
      rulesFile("flink-clusterrole-rules.yaml"),
    );
    const env = agentEnv(manifests);
    assert.equal(env.MERIDIAN_WORKSPACE_AGENT_CLUSTER_ROLE, "meridian-agent-workspace-agent");
    assert.equal(env.MERIDIAN_FLINK_CLUSTER_ROLE, "meridian-agent-flink");
    assert.deepEqual(
      one(manifests, "ClusterRole", "meridian-agent-drain").rules,
      rulesFile("agent-drain-clusterrole-rules.yaml"),
    );
    assert.equal(env.MERIDIAN_DRAIN_CLUSTER_ROLE, "meridian-agent-drain");
    assert.equal(env.MERIDIAN_SERVICE_ACCOUNT_NAME, one(manifests, "ServiceAccount").metadata.name);
    const lease = one(manifests, "Role", "meridian-agent-leader-election");
    assert.equal(lease.rules.length > 0, true);
    assert.deepEqual(lease.rules, rulesFile("agent-leader-election-role-rules.yaml"));
  });

  test("let the agent get, create and patch its credential Secret, by name, and nothing else at home", () => {
    assert.deepEqual(one(manifests, "Role", "meridian-agent-credential").rules, [
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: ["meridian-agent-credential"],
        verbs: ["get", "create", "patch"],
      },
    ]);
    const binding = one(manifests, "RoleBinding", "meridian-agent-credential");
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "meridian-agent-credential",
    });
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "meridian-agent", namespace: "meridian-system" },
    ]);
    assert.equal(agentEnv(manifests).MERIDIAN_AGENT_CREDENTIAL_SECRET, "meridian-agent-credential");
  });

  test("render the local policy with the contract's field names", () => {
    const policy = parse(one(manifests, "ConfigMap").data["policy.yaml"]);
    assert.deepEqual(Object.keys(policy).sort(), [
      "allowedEgress",
      "allowedJarURIs",
      "allowedRegistries",
      "identity",
      "namespacePrefix",
      "orphanGracePeriodSeconds",
      "podSecurity",
      "podTemplates",
      "quotaCeilings",
      "storage",
    ]);
    assert.equal(policy.namespacePrefix, "mw-");
    assert.deepEqual(policy.podSecurity, { enforce: "restricted", version: "latest" });
    assert.deepEqual(policy.podTemplates, { allowInitContainers: true, allowSidecars: true });
  });

  test("keep the token only in the Secret", () => {
    const secret = one(manifests, "Secret");
    assert.equal(Buffer.from(secret.data.token, "base64").toString(), "test-token-not-a-secret");
    const volume = pod.volumes.find((v: { name: string }) => v.name === "token");
    assert.equal(volume.secret.secretName, secret.metadata.name);
  });
});

describe("existing Secret, digests, private registry, three replicas", async () => {
  const manifests = await render(["existing-secret"]);
  const pod = one(manifests, "Deployment").spec.template.spec;

  test("create no Secret and mount the named one's key as the token", () => {
    assert.equal(manifests.filter((m) => m.kind === "Secret").length, 0);
    const volume = pod.volumes.find((v: { name: string }) => v.name === "token");
    assert.deepEqual(volume.secret.items, [{ key: "agent-token", path: "token" }]);
    assert.equal(volume.secret.secretName, "meridian-agent-credentials");
  });

  test("pull by digest with the pull secrets, for the agent and the workspace agents", () => {
    assert.equal(
      pod.containers[0].image,
      "registry.corp.example/mirror/meridian-agent:0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    assert.deepEqual(pod.imagePullSecrets, [{ name: "corp-registry" }]);
    const env = agentEnv(manifests);
    assert.match(env.MERIDIAN_WORKSPACE_AGENT_IMAGE ?? "", /meridian-workspace-agent:0\.1\.0@sha256:fedcba/);
    assert.equal(env.MERIDIAN_WORKSPACE_AGENT_PULL_SECRETS, "corp-registry");
  });

  test("spread over zones with the agent's own selector and keep a PDB by maxUnavailable", () => {
    const [tsc] = pod.topologySpreadConstraints;
    assert.deepEqual(tsc.labelSelector.matchLabels, one(manifests, "Deployment").spec.selector.matchLabels);
    assert.deepEqual(one(manifests, "PodDisruptionBudget").spec.maxUnavailable, 1);
    assert.equal(one(manifests, "PodDisruptionBudget").spec.minAvailable, undefined);
  });
});

describe("custom CA + proxy + NetworkPolicy", async () => {
  const manifests = await render(["custom-ca-proxy"]);
  const container = one(manifests, "Deployment").spec.template.spec.containers[0];
  const env = agentEnv(manifests);

  test("mount the CA bundle where MERIDIAN_CA_FILE points", () => {
    const ca = one(manifests, "ConfigMap", "meridian-agent-ca");
    assert.match(ca.data["ca.crt"], /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    const mount = container.volumeMounts.find((v: { name: string }) => v.name === "ca");
    assert.equal(env.MERIDIAN_CA_FILE, `${mount.mountPath}/ca.crt`);
  });

  test("set HTTPS_PROXY from the chart's proxy Secret and a NO_PROXY that keeps in-cluster names direct", () => {
    const ref = container.env.find((e: { name: string }) => e.name === "HTTPS_PROXY").valueFrom.secretKeyRef;
    assert.deepEqual(ref, { name: "meridian-agent-proxy", key: "httpsProxy" });
    const secret = one(manifests, "Secret", "meridian-agent-proxy");
    assert.equal(Buffer.from(secret.data.httpsProxy, "base64").toString(), "http://proxy.corp.example:3128");
    assert.equal(env.NO_PROXY, "10.0.0.0/8,.corp.example,kubernetes.default.svc,.svc,.cluster.local");
  });

  test("allow egress to DNS, the API server and the proxy only", () => {
    const np = one(manifests, "NetworkPolicy").spec;
    assert.deepEqual(np.policyTypes, ["Ingress", "Egress"]);
    assert.equal(np.egress.length, 3);
    const ports = np.egress.map((r: { ports: Array<{ port: number }> }) => r.ports.map((p) => p.port));
    assert.deepEqual(ports, [[53, 53], [443], [3128]]);
    assert.deepEqual(np.egress[2].to, [{ ipBlock: { cidr: "10.20.30.40/32" } }]);
  });
});

describe("strict policy, single replica", async () => {
  const manifests = await render(["strict-policy"]);
  const deploy = one(manifests, "Deployment");

  test("render the policy exactly as given", () => {
    const values = parse(readFileSync(join(VALUES_DIR, "strict-policy.yaml"), "utf8"));
    assert.deepEqual(parse(one(manifests, "ConfigMap").data["policy.yaml"]), values.policy);
  });

  test("without leader election: Recreate, no Lease Role, no PDB, no Service", () => {
    assert.equal(deploy.spec.strategy.type, "Recreate");
    assert.equal(agentEnv(manifests).MERIDIAN_LEADER_ELECTION, "false");
    for (const kind of ["PodDisruptionBudget", "Service"]) {
      assert.equal(manifests.filter((m) => m.kind === kind).length, 0, kind);
    }
    for (const kind of ["Role", "RoleBinding"])
      assert.deepEqual(
        manifests.filter((m) => m.kind === kind).map((m) => m.metadata.name),
        ["meridian-agent-credential"],
        `${kind}: only the credential's`,
      );
  });

  test("read the CA from the existing Secret's key", () => {
    const ca = deploy.spec.template.spec.volumes.find((v: { name: string }) => v.name === "ca");
    assert.deepEqual(ca.projected.sources, [
      { secret: { name: "corp-root-ca", items: [{ key: "bundle.pem", path: "ca.crt" }] } },
    ]);
  });
});

describe("the chart refuses, saying what to change", () => {
  const cases: Array<{ name: string; set: Record<string, string>; message: RegExp }> = [
    {
      name: "a misspelled value",
      set: { replica: "2" },
      message: /additional properties 'replica' not allowed/,
    },
    {
      name: "a misspelled nested value",
      set: { "leaderElection.leaseDurations": "15s" },
      message: /at '\/leaderElection': additional properties 'leaseDurations' not allowed/,
    },
    { name: "a wrong type", set: { replicas: "two" }, message: /at '\/replicas': got string, want integer/ },
    {
      name: "token and existingSecret together",
      set: { "existingSecret.name": "mine" },
      message: /token and existingSecret\.name are both set: set exactly one/,
    },
    {
      name: "the proxy given twice",
      set: { "proxy.httpsProxy": "http://proxy:3128", "proxy.existingSecret.name": "corp-proxy" },
      message: /proxy\.httpsProxy and proxy\.existingSecret\.name are both set: set at most one/,
    },
    {
      name: "neither token nor existingSecret",
      set: { token: "" },
      message: /neither token nor existingSecret\.name is set/,
    },
    {
      name: "replicas > 1 without leader election",
      set: { "leaderElection.enabled": "false" },
      message: /replicas is 2 but leaderElection\.enabled is false/,
    },
    {
      name: "a renewDeadline not shorter than the lease",
      set: { "leaderElection.renewDeadline": "15s" },
      message: /renewDeadline \(15s\) must be shorter than leaderElection\.leaseDuration \(15s\)/,
    },
    {
      name: "a workspace agent image the policy forbids",
      set: { "images.workspaceAgent.repository": "docker.io/someone/agent" },
      message: /images\.workspaceAgent\.repository \(docker\.io\/someone\/agent\) is not allowed by policy/,
    },
    {
      name: "a workspace agent image that only shares a prefix with an allowed registry",
      set: { "images.workspaceAgent.repository": "ghcr.io/meridian-devx/agent" },
      message: /images\.workspaceAgent\.repository \(ghcr\.io\/meridian-devx\/agent\) is not allowed/,
    },
    {
      name: "a NetworkPolicy without API server CIDRs",
      set: { "networkPolicy.enabled": "true" },
      message: /networkPolicy\.enabled needs networkPolicy\.apiServerCIDRs/,
    },
    {
      name: "a relaxed Pod Security level without a reason",
      set: { "policy.podSecurity.enforce": "baseline" },
      message: /policy\.podSecurity\.enforce is baseline but policy\.podSecurity\.reason is empty: say why/,
    },
    {
      name: "an egress destination that is not a CIDR",
      set: { "policy.allowedEgress[0].cidr": "s3.amazonaws.com" },
      message: /at '\/policy\/allowedEgress\/0\/cidr'/,
    },
    {
      name: "two CA sources",
      set: { "customCA.existingSecret.name": "a", "customCA.existingConfigMap.name": "b" },
      message: /set at most one of customCA\.pem, customCA\.existingConfigMap\.name/,
    },
    {
      name: "a PDB by both minAvailable and maxUnavailable",
      set: { "podDisruptionBudget.minAvailable": "1", "podDisruptionBudget.maxUnavailable": "1" },
      message: /set only one of minAvailable and maxUnavailable/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const args = ["template", "r", CHART_DIR, ...valueArgs(["defaults"], c.set)];
      const res = await helm(args);
      assert.notEqual(res.code, 0, `helm accepted ${JSON.stringify(c.set)}`);
      assert.match(res.stderr, c.message);
    });
  }

  test("but accepts what the agents' image policy accepts: short names, '*', an empty list", async () => {
    const ws = "images.workspaceAgent.repository";
    const allowed = "policy.allowedRegistries.workspaceAgent";
    const accepted = [
      ["--set", `${ws}=meridian/ws`, "--set", `${allowed}[0]=docker.io/meridian`],
      ["--set", `${ws}=quay.io/x/ws`, "--set", `${allowed}[0]=*`],
      ["--set", `${ws}=quay.io/x/ws`, "--set-json", `${allowed}=[]`],
    ];
    for (const extra of accepted) {
      const res = await helm(["template", "r", CHART_DIR, ...valueArgs(["defaults"]), ...extra]);
      assert.equal(res.code, 0, `${extra.join(" ")}: ${res.stderr}`);
    }
  });

  test("required values, when missing", async () => {
    const res = await helm(["template", "r", CHART_DIR]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /controlPlane\.url is required/);
  });
});
