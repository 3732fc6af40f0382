import assert from "node:assert/strict";
import { test } from "node:test";
import { workspaceSpec } from "./workspace.ts";

const base = { id: "team-a", generation: 1, quota: { cpu: "4", memory: "8Gi" } };
const refusal = (extra: Record<string, unknown>) => {
  const r = workspaceSpec.safeParse({ ...base, ...extra });
  assert.equal(r.success, false, JSON.stringify(extra));
  return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
};

test("storage and identity are optional: a workspace of before still parses unchanged", () => {
  const w = workspaceSpec.parse(base);
  assert.equal(w.storage, undefined);
  assert.equal(w.identity, undefined);
});

test("object-store base URIs and cloud identities are accepted as sent", () => {
  const w = workspaceSpec.parse({
    ...base,
    storage: { baseURI: "s3://acme-state/flink", credentialsSecret: "s3-keys" },
    identity: {
      awsRoleArn: "arn:aws:iam::123456789012:role/flink/meridian-team-a",
      azureClientId: "11111111-2222-3333-4444-555555555555",
      azureTenantId: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    },
  });
  assert.equal(w.storage?.baseURI, "s3://acme-state/flink");
  assert.equal(w.identity?.awsRoleArn, "arn:aws:iam::123456789012:role/flink/meridian-team-a");
  for (const baseURI of [
    "s3a://acme/x",
    "abfss://state@acme.dfs.core.windows.net/flink",
    "wasbs://state@acme.blob.core.windows.net/",
    "file:///flink-data/state",
  ])
    assert.equal(workspaceSpec.parse({ ...base, storage: { baseURI } }).storage?.baseURI, baseURI);
  // An Azure storage account's shared key from a Secret, where Workload Identity cannot be used.
  const keyed = { baseURI: "wasbs://state@acme.blob.core.windows.net/flink", credentialsSecret: "azure-key" };
  assert.deepEqual(workspaceSpec.parse({ ...base, storage: keyed }).storage, keyed);
});

test("a malformed storage or identity is refused naming the field", () => {
  assert.match(
    refusal({ storage: { baseURI: "http://169.254.169.254/x" } }),
    /^storage\.baseURI: has scheme "http:"/,
  );
  assert.match(
    refusal({ storage: { baseURI: "s3://key:secret@bucket/x" } }),
    /^storage\.baseURI: must not carry user information/,
  );
  assert.match(
    refusal({ storage: { baseURI: "s3://bucket/a/../b" } }),
    /^storage\.baseURI: must not have '\.' or '\.\.'/,
  );
  assert.match(
    refusal({ storage: { baseURI: "s3://bucket/x?X-Amz-Signature=1" } }),
    /^storage\.baseURI: must not carry a query/,
  );
  assert.match(refusal({ storage: { baseURI: `s3://b/${"x".repeat(2100)}` } }), /^storage\.baseURI: /);
  assert.match(
    refusal({ storage: { baseURI: "file:///flink-data/x", credentialsSecret: "keys" } }),
    /^storage\.credentialsSecret: access keys from a Secret work only for object storage/,
  );
  assert.match(
    refusal({ storage: { baseURI: "s3://b/x", credentialsSecret: "Bad_Name" } }),
    /^storage\.credentialsSecret: /,
  );
  assert.match(
    refusal({ identity: { awsRoleArn: "arn:aws:iam::123:role/x" } }),
    /^identity\.awsRoleArn: must be an IAM role ARN/,
  );
  assert.match(
    refusal({ identity: { awsRoleArn: "arn:aws:iam::123456789012:user/x" } }),
    /^identity\.awsRoleArn: /,
  );
  assert.match(
    refusal({ identity: { azureClientId: "not-a-guid" } }),
    /^identity\.azureClientId: must be a client id/,
  );
  assert.match(
    refusal({ identity: { azureTenantId: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" } }),
    /^identity\.azureTenantId: needs azureClientId/,
  );
});
