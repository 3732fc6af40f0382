// The workspace's default pod template (MERIDIAN_FLINK_DEFAULT_POD_TEMPLATE): merged under each
// deployment's own (the deployment's wins, the component's over both), checked on its own by the same
// ownership rules and policy, named as the workspace's field when refused; without one, specs and
// their hashes stay exactly as they were.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeploymentSpec, DeploymentSpecInput } from "@meridian/shared/protocol/index";
import type { PodTemplate } from "@meridian/shared/protocol/pod-template";
import { buildJobManagerPod, buildTaskManagerPod, type DeploymentContext, specHash } from "./objects.ts";
import { withWorkspacePodTemplate } from "./pod-template.ts";
import { specOf } from "./spec.testutil.ts";
import { refuseSpec } from "./spec-policy.ts";

const WORKSPACE: PodTemplate = {
  metadata: { labels: { team: "payments", tier: "default" } },
  spec: {
    containers: [
      {
        name: "flink-main-container",
        env: [
          { name: "REGION", value: "eu-west-1" },
          { name: "MODE", value: "workspace" },
        ],
      },
    ],
    nodeSelector: { pool: "flink" },
    priorityClassName: "flink-default",
  },
};
const own = (over: Partial<DeploymentSpecInput> = {}): DeploymentSpec =>
  specOf({
    podTemplate: {
      metadata: { labels: { tier: "gold" } },
      spec: { containers: [{ name: "flink-main-container", env: [{ name: "MODE", value: "deployment" }] }] },
    },
    ...over,
  });
const ctx = (spec: DeploymentSpec): DeploymentContext => ({
  workspaceId: "w1",
  namespace: "mw-w1",
  spec,
  savepointBaseDir: undefined,
  imagePullSecrets: [],
});
const owner = { name: "orders-flink-config", uid: "u1" };
const run = { id: 1, specHash: "h" };
const policy = { allowedRegistries: [], allowedJarURIs: [] };
const flinkEnv = (pod: ReturnType<typeof buildJobManagerPod>) =>
  Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

test("the workspace's default goes under the deployment's template: the deployment's entries win", () => {
  const spec = withWorkspacePodTemplate(own(), WORKSPACE);
  for (const pod of [
    buildJobManagerPod(ctx(spec), owner, run),
    buildTaskManagerPod(ctx(spec), owner, run, 0),
  ]) {
    const env = flinkEnv(pod);
    assert.equal(env.REGION, "eu-west-1", "the workspace's variable reaches the Flink container");
    assert.equal(env.MODE, "deployment", "the deployment's variable of the same name wins");
    assert.equal(pod.metadata?.labels?.team, "payments");
    assert.equal(pod.metadata?.labels?.tier, "gold");
    assert.deepEqual(pod.spec?.nodeSelector, { pool: "flink" });
    assert.equal(pod.spec?.priorityClassName, "flink-default");
  }
});

test("a component's template wins over the deployment's and the workspace's", () => {
  const spec = withWorkspacePodTemplate(
    own({
      jobManager: {
        resources: { cpu: "1", memory: "1Gi" },
        podTemplate: { spec: { priorityClassName: "flink-jm" } },
      },
    }),
    WORKSPACE,
  );
  assert.equal(buildJobManagerPod(ctx(spec), owner, run).spec?.priorityClassName, "flink-jm");
  assert.equal(buildTaskManagerPod(ctx(spec), owner, run, 0).spec?.priorityClassName, "flink-default");
});

test("without a workspace default the spec, and its hash, are unchanged; a default changes the hash", () => {
  const spec = own();
  assert.equal(withWorkspacePodTemplate(spec, undefined), spec);
  assert.notEqual(
    specHash(withWorkspacePodTemplate(spec, WORKSPACE)),
    specHash(spec),
    "a new default redeploys",
  );
  assert.deepEqual(withWorkspacePodTemplate(specOf(), WORKSPACE).podTemplate, WORKSPACE);
});

test("the workspace's default is checked by the same rules, and a refusal names its field", () => {
  const initContainer: PodTemplate = { spec: { initContainers: [{ name: "setup", image: "busybox:1.36" }] } };
  const forbidden = refuseSpec(own(), {
    ...policy,
    podTemplates: { allowInitContainers: false, allowSidecars: true },
    workspacePodTemplate: initContainer,
  });
  assert.equal(forbidden?.field, "workspace.flinkPodTemplate.spec.initContainers[0]");
  assert.match(forbidden?.message ?? "", /podTemplates\.allowInitContainers/);
  const owned = refuseSpec(own(), {
    ...policy,
    workspacePodTemplate: {
      spec: {
        containers: [{ name: "flink-main-container", env: [{ name: "POD_IP", value: "x" }] }],
      },
    },
  });
  assert.equal(owned?.field, "workspace.flinkPodTemplate.spec.containers[0].env[0].name");
  assert.equal(refuseSpec(own(), { ...policy, workspacePodTemplate: WORKSPACE }), undefined);
  // The deployment's own fault is still named as the deployment's.
  const mine = refuseSpec(
    own({ podTemplate: { spec: { initContainers: [{ name: "setup", image: "busybox:1.36" }] } } }),
    {
      ...policy,
      podTemplates: { allowInitContainers: false, allowSidecars: true },
      workspacePodTemplate: WORKSPACE,
    },
  );
  assert.equal(mine?.field, "podTemplate.spec.initContainers[0]");
});
