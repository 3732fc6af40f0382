// The contract between the chart and the agent, checked with the agent's own code: the Deployment's
// args, env and mounted files of every value set load through agent/src/config.ts's loadConfig() as a
// kubelet would present them, every env name the chart sets is one the agent reads, and the chart's
// registry check refuses exactly the workspace agent images agent/src/policy.ts refuses.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WORKSPACE_AGENT_ENV } from "@meridian/shared/contract/workspace-agent-env";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { publicKeyText } from "@meridian/shared/protocol/signing";
import { SETTINGS } from "../../agent/src/config.ts";
import { checkImage } from "../../agent/src/policy.ts";
import { workspaceBuildContext } from "../../agent/src/workspace/build-context.ts";
import { workspaceAgentEnv } from "../../agent/src/workspace/objects.ts";
import { TEST_SIGNING_PUBLIC_KEY, testSigningKey } from "../control-plane/signing.ts";
import { loadFromPod, POD_IP, POD_NAME, podView } from "./agent-pod.ts";
import { CHART_DIR, helm, render, VALUE_SETS, valueArgs } from "./helm.ts";

describe("the agent's loadConfig accepts what the chart gives it", () => {
  for (const set of VALUE_SETS) {
    test(set, async () => {
      const manifests = await render([set]);
      const view = podView(manifests);
      const known = new Set(SETTINGS.flatMap((s) => (s.env ? [s.env] : [])));
      // Read by the runtime, not by the agent's config: the pod IP (memory tuning is in the image).
      const runtime = new Set(["POD_IP"]);
      const unknown = Object.keys(view.env).filter((name) => !known.has(name) && !runtime.has(name));
      assert.deepEqual(unknown, [], "env names the agent does not read");

      const config = loadFromPod(view);
      assert.equal(config.healthAddr, `${POD_IP}:8080`);
      assert.equal(config.namespace, "meridian-system");
      assert.equal(config.podName, POD_NAME);
      assert.ok(config.policyFile, "no policy file");
      if (config.leaderElection) {
        const lease = manifests.find(
          (m) => m.kind === "Role" && m.metadata.name.endsWith("-leader-election"),
        );
        assert.equal(config.leaseName, lease?.metadata.name.replace(/-leader-election$/, ""));
        assert.ok(
          config.retryPeriodMs < config.renewDeadlineMs && config.renewDeadlineMs < config.leaseDurationMs,
        );
      }
      assert.equal(config.caPem !== undefined, view.env.MERIDIAN_CA_FILE !== undefined);
    });
  }

  test("the rendered policy is the values' policy, as the agent reads it", async () => {
    const config = loadFromPod(podView(await render(["strict-policy"])));
    assert.deepEqual(config.policy, {
      namespacePrefix: "flink-ws-",
      allowedRegistries: {
        workspaceAgent: ["acr.corp.example/meridian/"],
        flink: ["acr.corp.example/flink/"],
      },
      allowedJarURIs: ["abfss://jobs@corpstore.dfs.core.windows.net/flink"],
      quotaCeilings: { cpu: "8500m", memory: "32Gi" },
      orphanGracePeriodSeconds: 3600,
      storage: {
        allowedURIs: ["abfss://state@corpstore.dfs.core.windows.net/flink"],
        s3: { endpoint: "https://s3.corp.example:9000", pathStyleAccess: true },
      },
      identity: { allowedAWSRoleARNs: [], allowedAzureClientIds: ["11111111-2222-3333-4444-555555555555"] },
      podTemplates: { allowInitContainers: false, allowSidecars: true },
      podSecurity: {
        enforce: "baseline",
        version: "v1.35",
        reason: "the corporate log shipper sidecar runs as root",
      },
      allowedEgress: [{ cidr: "10.40.0.0/16", except: ["10.40.9.0/24"], ports: [443, 9093] }],
    });
    assert.equal(config.leaderElection, false);
    assert.equal(
      config.workspaceAgentImage,
      "acr.corp.example/meridian/meridian-workspace-agent:0.1.0-hotfix.1",
    );
  });

  test("the token and the leader-election timings reach the agent", async () => {
    const view = podView(await render(["defaults"], { "leaderElection.leaseDuration": "1m" }));
    const config = loadFromPod(view);
    assert.equal(view.files.get(config.tokenFile), "test-token-not-a-secret");
    assert.equal(config.leaseDurationMs, 60_000);
    assert.equal(config.renewDeadlineMs, 10_000);
    assert.equal(config.retryPeriodMs, 2_000);
  });

  test("the networkPolicy values shape the workspaces' egress, whether or not the agent's own policy is on", async () => {
    const egress = loadFromPod(podView(await render(["custom-ca-proxy"]))).workspaceEgress;
    assert.deepEqual(egress.apiServer, { cidrs: ["10.0.0.1/32", "172.16.5.0/24"], ports: [443] });
    assert.deepEqual(egress.controlPlane, { cidrs: ["10.20.30.40/32"], ports: [3128] });
    const off = loadFromPod(podView(await render(["defaults"]))).workspaceEgress;
    assert.deepEqual(off, {
      dns: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } },
      apiServer: { cidrs: [], ports: [443, 6443] },
      controlPlane: { cidrs: [], ports: [443] },
    });
  });

  test("policy.podTemplates reaches the agent, false included, and from it every workspace agent", async () => {
    const view = podView(
      await render(["defaults"], {
        "policy.podTemplates.allowInitContainers": "false",
        "policy.podTemplates.allowSidecars": "false",
      }),
    );
    const config = loadFromPod(view);
    assert.deepEqual(config.policy.podTemplates, { allowInitContainers: false, allowSidecars: false });
    const ctx = { ...workspaceBuildContext(config), image: config.workspaceAgentImage, proxyRevision: "r1" };
    const spec = workspaceSpec.parse({ id: "w1", generation: 1, quota: { cpu: "1", memory: "1Gi" } });
    const env = new Map(
      (workspaceAgentEnv(spec, ctx) as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]),
    );
    assert.equal(env.get(WORKSPACE_AGENT_ENV.flinkPodTemplateAllowInitContainers.name), "false");
    assert.equal(env.get(WORKSPACE_AGENT_ENV.flinkPodTemplateAllowSidecars.name), "false");
  });

  test("quota ceilings set to null leave the agent without a ceiling", async () => {
    const view = podView(await render(["defaults"], { "policy.quotaCeilings.cpu": "null" }));
    assert.deepEqual(loadFromPod(view).policy.quotaCeilings, { memory: "256Gi" });
  });
});

describe("the chart's registry check agrees with the agent's", () => {
  const cases: Array<[repository: string, allowed: string[]]> = [
    ["ghcr.io/meridian-dev/meridian-workspace-agent", ["ghcr.io/meridian-dev/"]],
    ["ghcr.io/meridian-dev/meridian-workspace-agent", ["ghcr.io/meridian-dev"]],
    ["ghcr.io/meridian-devx/meridian-workspace-agent", ["ghcr.io/meridian-dev"]],
    ["ghcr.io/meridian-dev/meridian-workspace-agent", ["ghcr.io"]],
    ["ghcr.io.evil.example/meridian-workspace-agent", ["ghcr.io"]],
    ["meridian/workspace-agent", ["docker.io/meridian"]],
    ["meridian/workspace-agent", ["meridian"]],
    ["workspace-agent", ["docker.io"]],
    ["registry.local:5000/ws", ["registry.local:5000"]],
    ["registry.local:5000/ws", ["registry.local"]],
    ["quay.io/x/ws", ["*"]],
  ];
  for (const [repository, allowed] of cases) {
    test(`${repository} with ${allowed.join(",")}`, async () => {
      const agent = checkImage(`${repository}:0.1.0`, allowed).allowed;
      const args = [
        "template",
        "r",
        CHART_DIR,
        ...valueArgs(["defaults"], { "images.workspaceAgent.repository": repository }),
      ];
      args.push("--set-json", `policy.allowedRegistries.workspaceAgent=${JSON.stringify(allowed)}`);
      const res = await helm(args);
      assert.equal(res.code === 0, agent, `agent says ${agent}, chart says ${res.code === 0}: ${res.stderr}`);
    });
  }
});

describe("the control plane's signing keys", () => {
  test("pinned keys reach the agent, which verifies with them; none pinned makes NOTES warn", async () => {
    const second = publicKeyText(testSigningKey(2));
    const set = {
      "controlPlane.signingPublicKeys[0]": TEST_SIGNING_PUBLIC_KEY,
      "controlPlane.signingPublicKeys[1]": second,
    };
    const view = podView(await render(["defaults"], set));
    assert.equal(view.env.MERIDIAN_SIGNING_PUBLIC_KEYS, `${TEST_SIGNING_PUBLIC_KEY},${second}`);
    const config = loadFromPod(view);
    assert.deepEqual(config.signingPublicKeys.texts(), [TEST_SIGNING_PUBLIC_KEY, second]);
    const warning = /controlPlane\.signingPublicKeys is empty: desired state is not verified/;
    assert.doesNotMatch(await notes(["defaults"], set), warning);
    assert.match(await notes(["defaults"]), warning);
    assert.equal(loadFromPod(podView(await render(["defaults"]))).signingPublicKeys.size, 0);
    const bad = await helm([
      "template",
      "r",
      CHART_DIR,
      ...valueArgs(["defaults"], { "controlPlane.signingPublicKeys[0]": "not-a-key" }),
    ]);
    assert.notEqual(
      bad.code,
      0,
      "the values schema refuses a key that is neither PEM nor 32 bytes of base64",
    );
    assert.match(bad.stderr, /signingPublicKeys/);
  });
});

/** NOTES as `helm install --dry-run` prints them. */
async function notes(valueSets: string[], set: Record<string, string> = {}): Promise<string> {
  const res = await helm(["install", "r", CHART_DIR, "--dry-run=client", ...valueArgs(valueSets, set)]);
  if (res.code !== 0) throw new Error(`helm install --dry-run failed: ${res.stderr}`);
  return res.stdout.slice(res.stdout.indexOf("NOTES:"));
}
