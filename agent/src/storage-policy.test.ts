import assert from "node:assert/strict";
import { test } from "node:test";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { checkWorkspace, DEFAULT_POLICY, policySchema } from "./policy.ts";

const IMAGE = "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0";
const ws = (extra: Record<string, unknown>) =>
  workspaceSpec.parse({ id: "a", generation: 1, quota: { cpu: "1", memory: "1Gi" }, ...extra });

const POLICY = policySchema.parse({
  storage: {
    allowedURIs: ["s3://acme-state/flink", "file:///flink-data"],
    s3: { endpoint: "http://127.0.0.1:9000/", pathStyleAccess: true },
  },
  identity: {
    allowedAWSRoleARNs: ["arn:aws:iam::123456789012:role/meridian-*"],
    allowedAzureClientIds: ["11111111-2222-3333-4444-555555555555"],
  },
});

test("defaults: any object store and identity, no file://, no S3 endpoint", () => {
  assert.deepEqual(DEFAULT_POLICY.storage, { allowedURIs: [], s3: { pathStyleAccess: false } });
  assert.deepEqual(DEFAULT_POLICY.identity, { allowedAWSRoleARNs: [], allowedAzureClientIds: [] });
  assert.deepEqual(
    checkWorkspace(
      ws({
        storage: { baseURI: "s3://anything/x" },
        identity: { awsRoleArn: "arn:aws:iam::123456789012:role/x" },
      }),
      IMAGE,
      DEFAULT_POLICY,
    ),
    [],
  );
  const v = checkWorkspace(ws({ storage: { baseURI: "file:///flink-data/a" } }), IMAGE, DEFAULT_POLICY);
  assert.deepEqual(
    v.map((x) => x.rule),
    ["storage.allowedURIs"],
  );
  assert.match(
    v[0]!.message,
    /^storage\.baseURI on file:\/\/\/flink-data\/a is refused: file:\/\/ is pod-local/,
  );
  assert.equal(POLICY.storage.s3.endpoint, "http://127.0.0.1:9000", "trailing slash dropped");
});

test("a storage URI, role ARN or client id outside the policy is a violation naming the field", () => {
  assert.deepEqual(
    checkWorkspace(
      ws({
        storage: { baseURI: "s3://acme-state/flink/a" },
        identity: {
          awsRoleArn: "arn:aws:iam::123456789012:role/meridian-a",
          azureClientId: "11111111-2222-3333-4444-555555555555",
        },
      }),
      IMAGE,
      POLICY,
    ),
    [],
  );
  const v = checkWorkspace(
    ws({
      storage: { baseURI: "s3://other-bucket/flink" },
      identity: {
        awsRoleArn: "arn:aws:iam::123456789012:role/admin",
        azureClientId: "99999999-2222-3333-4444-555555555555",
      },
    }),
    IMAGE,
    POLICY,
  );
  assert.deepEqual(
    v.map((x) => x.rule),
    ["storage.allowedURIs", "identity.allowedAWSRoleARNs", "identity.allowedAzureClientIds"],
  );
  assert.match(v[0]!.message, /^storage\.baseURI on s3:\/\/other-bucket\/flink is refused/);
  assert.match(v[1]!.message, /^identity\.awsRoleArn arn:aws:iam::123456789012:role\/admin is not allowed/);
  assert.match(v[2]!.message, /^identity\.azureClientId 99999999-2222-3333-4444-555555555555 is not allowed/);
});

test("the workspace credential is never the storage Secret", () => {
  const v = checkWorkspace(
    ws({ storage: { baseURI: "s3://acme-state/flink", credentialsSecret: "meridian-workspace-credential" } }),
    IMAGE,
    POLICY,
  );
  assert.deepEqual(
    v.map((x) => x.rule),
    ["storage.credentialsSecret"],
  );
});

test("bad policy entries fail at start with the entry named", () => {
  const bad = (p: unknown) => {
    const r = policySchema.safeParse(p);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  };
  assert.match(
    bad({ storage: { allowedURIs: ["http://x/y"] } }),
    /^storage\.allowedURIs\.0: storage\.allowedURIs entry has scheme "http:"/,
  );
  assert.match(
    bad({ storage: { s3: { endpoint: "http://u:p@minio:9000" } } }),
    /^storage\.s3\.endpoint: must be an http\(s\) URL/,
  );
  assert.match(
    bad({ identity: { allowedAWSRoleARNs: ["arn:aws:iam::123456789012:role/*-x"] } }),
    /may hold \* only at its end/,
  );
  assert.match(bad({ identity: { allowedAzureClientIds: ["nope"] } }), /must be a client id/);
  assert.match(bad({ storage: { other: 1 } }), /storage/);
});
