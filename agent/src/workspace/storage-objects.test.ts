import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { WORKSPACE_AGENT_ENV as ENV } from "@meridian/shared/contract/workspace-agent-env";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { parse } from "yaml";
import { buildContext } from "./build-context.testutil.ts";
import { desiredObjects, workspaceAgentEnv } from "./objects.ts";
import { buildFlinkServiceAccount } from "./storage-objects.ts";

const ctx = buildContext({ storageS3: { endpoint: "http://127.0.0.1:9000", pathStyleAccess: true } });
const ws = (extra: Record<string, unknown> = {}) =>
  workspaceSpec.parse({ id: "team-a", generation: 1, quota: { cpu: "1", memory: "1Gi" }, ...extra });
const envOf = (spec: ReturnType<typeof ws>) =>
  Object.fromEntries(
    (workspaceAgentEnv(spec, ctx) as { name: string; value?: string }[]).map((e) => [e.name, e.value]),
  );

test("every workspace gets the Flink ServiceAccount: labelled, no automounted token, bound only to the chart's HA ClusterRole", () => {
  const objs = desiredObjects(ws(), ctx);
  const sa = objs.find(
    (o) => o.type.kind === "ServiceAccount" && o.object.metadata?.name === "meridian-flink",
  );
  assert.ok(sa, "meridian-flink is desired");
  assert.equal(sa.object.metadata?.namespace, "mw-team-a");
  assert.equal(sa.object.metadata?.labels?.["meridian.dev/workspace"], "team-a");
  assert.equal(sa.object.metadata?.annotations, undefined, "no identity, no annotation");
  assert.equal((sa.object as { automountServiceAccountToken?: boolean }).automountServiceAccountToken, false);
  const bindings = objs.filter((o) =>
    ((o.object as { subjects?: { name: string }[] }).subjects ?? []).some((s) => s.name === "meridian-flink"),
  );
  assert.deepEqual(
    bindings.map((o) => `${o.type.kind}/${o.object.metadata?.name}`),
    ["RoleBinding/meridian-flink"],
    "only its HA ClusterRole is bound to meridian-flink",
  );
  const binding = bindings[0]?.object as { roleRef: { kind: string; name: string }; subjects: unknown[] };
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "meridian-agent-flink",
  });
  assert.deepEqual(binding.subjects, [
    { kind: "ServiceAccount", name: "meridian-flink", namespace: "mw-team-a" },
  ]);
  // The ClusterRole's rules (the chart's file): ConfigMaps for Flink's Kubernetes HA, nothing else.
  const file = new URL("../../../helm/meridian-agent/files/flink-clusterrole-rules.yaml", import.meta.url);
  assert.deepEqual(parse(readFileSync(file, "utf8")), [
    {
      apiGroups: [""],
      resources: ["configmaps"],
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
  ]);
});

test("the identity becomes the ServiceAccount's IRSA and Workload Identity annotations", () => {
  const sa = buildFlinkServiceAccount(
    ws({
      identity: {
        awsRoleArn: "arn:aws:iam::123456789012:role/flink",
        azureClientId: "AAAAAAAA-2222-3333-4444-555555555555",
        azureTenantId: "bbbbbbbb-2222-3333-4444-555555555555",
      },
    }),
    "mw-team-a",
  );
  assert.deepEqual(sa.metadata?.annotations, {
    "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/flink",
    "azure.workload.identity/client-id": "aaaaaaaa-2222-3333-4444-555555555555",
    "azure.workload.identity/tenant-id": "bbbbbbbb-2222-3333-4444-555555555555",
  });
});

test("storage and identity reach the workspace agent through the contract's variables", () => {
  const env = envOf(
    ws({
      storage: { baseURI: "s3://acme/flink/", credentialsSecret: "s3-keys" },
      identity: { azureClientId: "aaaaaaaa-2222-3333-4444-555555555555" },
    }),
  );
  assert.equal(env[ENV.flinkServiceAccount.name], "meridian-flink");
  assert.equal(env[ENV.storageBaseURI.name], "s3://acme/flink");
  assert.equal(env[ENV.storageCredentialsSecret.name], "s3-keys");
  assert.equal(env[ENV.storageS3Endpoint.name], "http://127.0.0.1:9000");
  assert.equal(env[ENV.storageS3PathStyleAccess.name], "true");
  assert.equal(env[ENV.flinkAzureClientId.name], "aaaaaaaa-2222-3333-4444-555555555555");
  const plain = envOf(ws());
  assert.equal(plain[ENV.storageBaseURI.name], undefined);
  assert.equal(plain[ENV.flinkServiceAccount.name], "meridian-flink");
});
