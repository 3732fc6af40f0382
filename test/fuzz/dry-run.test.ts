// The real kube-apiserver's verdict on what the renderers make of fuzzed specs: for a fixed-seed sample
// of specs the protocol accepts (the same arbitraries as the unit fuzz tests), every object the agent
// renders for a workspace and the workspace agent renders for a Flink deployment passes a server-side
// dry-run apply with strict field validation (admission included). Namespaces are created for real,
// since a namespaced object cannot even be dry-run into a namespace that does not exist.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fuzzRuns, fuzzSeed } from "@meridian/shared/fuzz.testutil";
import { APPLY_CONTENT_TYPE } from "@meridian/shared/kube/apply";
import { createKubeClient, type KubeClient } from "@meridian/shared/kube/client";
import { FIELD_MANAGER_AGENT, FIELD_MANAGER_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import {
  CONFIG_MAPS,
  type KubeObject,
  NAMESPACES,
  PODS,
  type ResourceType,
  resourcePath,
  SECRETS,
  SERVICE_ACCOUNTS,
  SERVICES,
} from "@meridian/shared/kube/resources";
import {
  MAX_CONFIG_ENTRIES,
  MAX_JOB_ARGS,
  streamedDeploymentSpec,
  taskManagerReplicas,
} from "@meridian/shared/protocol/index";
import fc from "fast-check";
import { acceptedWorkspaceSpec, buildContext } from "../../agent/src/workspace/arbitraries.testutil.ts";
import { buildCredentialSecret, desiredObjects, namespaceName } from "../../agent/src/workspace/objects.ts";
import {
  type Rendering,
  rendering,
  renderingOf,
} from "../../workspace-agent/src/flink/arbitraries.testutil.ts";
import {
  buildConfigMap,
  buildJobManagerPod,
  buildService,
  buildTaskManagerPod,
} from "../../workspace-agent/src/flink/objects.ts";
import { SPEC_INPUT } from "../../workspace-agent/src/flink/spec.testutil.ts";
import { type Cluster, getTestCluster } from "../cluster/index.ts";

/** Specs per kind sent to the API server (MERIDIAN_FUZZ_RUNS scales it). */
const SAMPLE = fuzzRuns(30);
const FLINK_NAMESPACE = "meridian-fuzz-flink";

let cluster: Cluster;
let admin: KubeClient;
const created = new Set<string>();

before(async () => {
  cluster = await getTestCluster();
  admin = await createKubeClient({ kubeconfig: cluster.kubeconfigPath });
});

after(async () => {
  for (const ns of created)
    await admin?.request({ method: "DELETE", path: resourcePath(NAMESPACES, undefined, ns) }).catch(() => {});
  await cluster?.stop();
});

/** Server-side apply with dryRun=All and strict field validation; the API server's refusal, or undefined. */
async function dryRun(
  type: ResourceType,
  obj: KubeObject,
  fieldManager: string,
): Promise<string | undefined> {
  const body = { ...obj, apiVersion: type.apiVersion, kind: type.kind };
  try {
    await admin.requestWithStatus({
      method: "PATCH",
      path: resourcePath(type, obj.metadata?.namespace, obj.metadata?.name),
      query: { fieldManager, force: true, dryRun: "All", fieldValidation: "Strict" },
      contentType: APPLY_CONTENT_TYPE,
      body: JSON.stringify(body),
    });
    return undefined;
  } catch (err) {
    return `${type.kind} ${obj.metadata?.name}: ${(err as Error).message.slice(0, 600)}`;
  }
}

/** Creates `name` for real (once) and waits for its default ServiceAccount, which pod admission needs. */
async function ensureNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  if (created.has(name)) return;
  await admin.requestWithStatus({
    method: "PATCH",
    path: resourcePath(NAMESPACES, undefined, name),
    query: { fieldManager: "meridian-fuzz-test", force: true },
    contentType: APPLY_CONTENT_TYPE,
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }),
  });
  created.add(name);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = await admin
      .request({ method: "GET", path: resourcePath(SERVICE_ACCOUNTS, name, "default") })
      .then(() => true)
      .catch(() => false);
    if (found) return;
    if (Date.now() > deadline) throw new Error(`namespace ${name} got no default ServiceAccount within 60 s`);
    await sleep(200);
  }
}

test("the dry run can fail: a pod named against the rules is refused", async () => {
  await ensureNamespace(FLINK_NAMESPACE);
  const refusal = await dryRun(
    PODS,
    {
      metadata: { name: "Not_A_Name", namespace: FLINK_NAMESPACE },
      spec: { containers: [{ name: "c", image: "x" }] },
    } as KubeObject,
    FIELD_MANAGER_WORKSPACE_AGENT,
  );
  assert.match(refusal ?? "", /Invalid value: "Not_A_Name"/);
  const unknownField = await dryRun(
    SERVICES,
    { metadata: { name: "svc", namespace: FLINK_NAMESPACE }, spec: { portz: [] } } as KubeObject,
    FIELD_MANAGER_WORKSPACE_AGENT,
  );
  assert.match(unknownField ?? "", /\.spec\.portz: field not declared in schema/);
});

test(`the API server accepts every object rendered for ${SAMPLE} fuzzed workspaces`, async () => {
  const samples = fc.sample(fc.tuple(acceptedWorkspaceSpec, buildContext), {
    seed: fuzzSeed(),
    numRuns: SAMPLE,
  });
  const refusals: string[] = [];
  for (const [spec, ctx] of samples) {
    const objects = desiredObjects(spec, ctx);
    const [namespace, ...rest] = objects;
    const ns = namespaceName(ctx.namespacePrefix, spec.id);
    const nsRefusal = await dryRun(NAMESPACES, namespace!.object, FIELD_MANAGER_AGENT);
    if (nsRefusal) {
      refusals.push(`workspace ${spec.id}: ${nsRefusal}`);
      continue;
    }
    await ensureNamespace(ns, namespace!.object.metadata?.labels);
    const credential = { workspaceId: spec.id, token: "t".repeat(64), expiresAt: "2026-04-15T11:00:00Z" };
    const secret = buildCredentialSecret(spec.id, ns, credential, "2026-04-15T10:00:00Z");
    for (const { type, object } of [...rest, { type: SECRETS, object: secret }]) {
      const refusal = await dryRun(type, object, FIELD_MANAGER_AGENT);
      if (refusal) refusals.push(`workspace ${spec.id} (${JSON.stringify(spec).slice(0, 300)}): ${refusal}`);
    }
  }
  assert.deepEqual(refusals, [], `${refusals.length} refusals:\n${refusals.slice(0, 5).join("\n")}`);
});

test(`the API server accepts every object rendered for ${SAMPLE} fuzzed Flink deployments`, async () => {
  await ensureNamespace(FLINK_NAMESPACE);
  // The sample, and the largest spec the protocol accepts.
  const samples = [...fc.sample(rendering, { seed: fuzzSeed(), numRuns: SAMPLE }), largest()];
  const refusals: string[] = [];
  for (const r of samples) {
    const ctx = { ...r.ctx, namespace: FLINK_NAMESPACE };
    const { spec } = ctx;
    const replicas = taskManagerReplicas(spec);
    // The first and the last TaskManager: the longest name is the last one's.
    const taskManagers = [...new Set([0, replicas - 1])].map((i) =>
      buildTaskManagerPod(ctx, r.owner, r.run, i),
    );
    const objects: [ResourceType, KubeObject][] = [
      [CONFIG_MAPS, buildConfigMap(ctx, r.state) as KubeObject],
      [SERVICES, buildService(ctx, r.owner) as KubeObject],
      [PODS, buildJobManagerPod(ctx, r.owner, r.run) as KubeObject],
      ...taskManagers.map((p): [ResourceType, KubeObject] => [PODS, p as KubeObject]),
    ];
    for (const [type, object] of objects) {
      const refusal = await dryRun(type, object, FIELD_MANAGER_WORKSPACE_AGENT);
      if (refusal)
        refusals.push(`deployment ${spec.name} (${JSON.stringify(spec).slice(0, 300)}): ${refusal}`);
    }
  }
  assert.deepEqual(refusals, [], `${refusals.length} refusals:\n${refusals.slice(0, 5).join("\n")}`);
});

/**
 * A rendering of the largest deployment spec the protocol accepts: the longest name, 256 TaskManagers,
 * every list and map with as many entries as allowed, each as long as the spec's byte limit leaves room
 * for (YAML's special characters and a two-byte letter in every configuration value).
 */
function largest(): Rendering {
  const [base] = fc.sample(rendering, { seed: 1, numRuns: 1 });
  for (let length = 400; length > 0; length -= 10) {
    const r = streamedDeploymentSpec.safeParse({
      ...SPEC_INPUT,
      name: "d".repeat(40),
      job: { ...SPEC_INPUT.job, args: Array.from({ length: MAX_JOB_ARGS }, () => "a".repeat(length / 2)) },
      taskManager: { ...SPEC_INPUT.taskManager, replicas: 256 },
      flinkConfiguration: Object.fromEntries(
        Array.from({ length: MAX_CONFIG_ENTRIES }, (_, i) => [
          `k${i}.${"k".repeat(40)}`,
          "v: 1 # ü\n".repeat(length / 10),
        ]),
      ),
    });
    if (r.success) return renderingOf(r.data, base!);
  }
  throw new Error("no spec with every list at its longest fits the spec's byte limit");
}
