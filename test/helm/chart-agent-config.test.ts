// The contract between the chart and the agent, checked with the agent's own code: the Deployment's
// args, env and mounted files of every value set load through agent/src/config.ts's loadConfig() as a
// kubelet would present them, every env name the chart sets is one the agent reads, and the chart's
// registry check refuses exactly the workspace agent images agent/src/policy.ts refuses.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadConfig, SETTINGS } from "../../agent/src/config.ts";
import { checkImage } from "../../agent/src/policy.ts";
import { CHART_DIR, helm, type Manifest, one, render, VALUE_SETS, valueArgs } from "./helm.ts";

const POD_IP = "10.244.1.7";
const POD_NAME = "meridian-agent-7d9c-x2x4z";
const FIELD_REFS: Record<string, string> = {
  "status.podIP": POD_IP,
  "metadata.name": POD_NAME,
  "metadata.namespace": "meridian-system",
};
/** What a Secret or ConfigMap the customer created holds, for value sets that name one. */
const EXTERNAL_FILE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

interface PodView {
  flags: Record<string, string | undefined>;
  env: Record<string, string>;
  files: Map<string, string>;
}

/** The container's args, env and files as the kubelet would present them (external Secrets faked). */
function podView(manifests: Manifest[]): PodView {
  const pod = one(manifests, "Deployment").spec.template.spec;
  const container = pod.containers[0];
  const env: Record<string, string> = {};
  for (const e of container.env as Array<{
    name: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath: string } };
  }>) {
    const fromField = e.valueFrom?.fieldRef ? FIELD_REFS[e.valueFrom.fieldRef.fieldPath] : undefined;
    assert.ok(e.value !== undefined || fromField !== undefined, `env ${e.name} has an unsupported source`);
    env[e.name] = (e.value ?? fromField ?? "").replace(
      /\$\((\w+)\)/g,
      (_m, n: string) => env[n] ?? `$(${n})`,
    );
  }
  const flags: Record<string, string | undefined> = {};
  for (const arg of (container.args as string[]).slice(1)) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    assert.ok(m, `argument ${arg} is not --flag=value`);
    const setting = SETTINGS.find((s) => s.flag === m[1]);
    assert.ok(setting, `the agent has no flag --${m[1]}`);
    flags[setting.key] = m[2];
  }
  const files = new Map<string, string>();
  for (const mount of container.volumeMounts as Array<{ name: string; mountPath: string }>) {
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    const sources = volume.projected?.sources ?? [volume];
    for (const src of sources) {
      const ref = src.secret ?? src.configMap;
      if (!ref) continue;
      const name = ref.secretName ?? ref.name;
      const rendered = manifests.find(
        (m) => (m.kind === "Secret" || m.kind === "ConfigMap") && m.metadata.name === name,
      );
      for (const item of ref.items ?? Object.keys(rendered?.data ?? {}).map((k) => ({ key: k, path: k }))) {
        const raw = rendered?.data?.[item.key];
        const text =
          raw === undefined
            ? EXTERNAL_FILE
            : rendered?.kind === "Secret"
              ? Buffer.from(raw, "base64").toString()
              : raw;
        files.set(`${mount.mountPath}/${item.path}`, text);
      }
    }
  }
  return { flags, env, files };
}

function loadFromPod(view: PodView) {
  return loadConfig({
    flags: view.flags,
    env: view.env,
    readFile: (path) => {
      const text = view.files.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return text;
    },
  });
}

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
        assert.equal(config.leaseName, one(manifests, "Role").metadata.name.replace(/-leader-election$/, ""));
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
      quotaCeilings: { cpu: "8500m", memory: "32Gi" },
      orphanGracePeriodSeconds: 3600,
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
