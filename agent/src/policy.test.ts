import assert from "node:assert/strict";
import { test } from "node:test";
import { workspaceSpec } from "@meridian/shared/protocol/index";
import { checkImage, checkWorkspace, imageRepository, policySchema } from "./policy.ts";

const IMAGE = "ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0";
const spec = (quota: { cpu: string; memory: string }, image?: string) =>
  workspaceSpec.parse({ id: "a", generation: 1, quota, workspaceAgent: image ? { image } : {} });

test("defaults: prefix mw-, no ceilings, any registry, one day of orphan grace", () => {
  const p = policySchema.parse({});
  assert.equal(p.namespacePrefix, "mw-");
  assert.deepEqual(p.allowedRegistries, { workspaceAgent: [], flink: [] });
  assert.deepEqual(p.allowedJarURIs, [], "only local:// jars inside the image");
  assert.equal(p.orphanGracePeriodSeconds, 86400);
  assert.deepEqual(checkWorkspace(spec({ cpu: "1000", memory: "1Ei" }), "evil.io/x:1", p), []);
});

test("quota above a ceiling is a violation naming the rule and the value", () => {
  const p = policySchema.parse({ quotaCeilings: { cpu: "16", memory: "64Gi" } });
  const v = checkWorkspace(spec({ cpu: "64", memory: "65Gi" }), IMAGE, p);
  assert.deepEqual(
    v.map((x) => x.message),
    [
      "quota.cpu 64 exceeds the policy ceiling quotaCeilings.cpu=16",
      "quota.memory 65Gi exceeds the policy ceiling quotaCeilings.memory=64Gi",
    ],
  );
  assert.deepEqual(checkWorkspace(spec({ cpu: "16000m", memory: "64Gi" }), IMAGE, p), []);
});

test("the workspace agent image must come from an allowed registry, on a path boundary", () => {
  const p = policySchema.parse({ allowedRegistries: { workspaceAgent: ["ghcr.io/meridian-dev/"] } });
  assert.deepEqual(checkWorkspace(spec({ cpu: "1", memory: "1Gi" }), IMAGE, p), []);
  const v = checkWorkspace(
    spec({ cpu: "1", memory: "1Gi" }, "ghcr.io/meridian-dev-evil/x:1"),
    "ghcr.io/meridian-dev-evil/x:1",
    p,
  );
  assert.equal(v.length, 1);
  assert.equal(v[0]!.rule, "allowedRegistries.workspaceAgent");
  assert.match(
    v[0]!.message,
    /^workspaceAgent\.image ghcr\.io\/meridian-dev-evil\/x:1 .* is not from an allowed registry/,
  );
});

test("image references normalise like a container runtime", () => {
  assert.equal(imageRepository("flink:2.1"), "docker.io/library/flink");
  assert.equal(imageRepository("apache/flink:2.1@sha256:abc"), "docker.io/apache/flink");
  assert.equal(imageRepository("localhost:5000/x/y:1"), "localhost:5000/x/y");
  assert.ok(checkImage("flink:2.1", ["flink"]).allowed);
  assert.ok(checkImage("flink:2.1", ["docker.io"]).allowed);
  assert.ok(!checkImage("flink:2.1", ["docker.io/apache"]).allowed);
  assert.ok(checkImage("anything/at:all", ["*"]).allowed);
});

test("the schema refuses unknown keys and bad values, naming the field", () => {
  const r = policySchema.safeParse({
    quotaCeiling: {},
    quotaCeilings: { cpu: "lots" },
    namespacePrefix: "MW",
  });
  assert.equal(r.success, false);
  const paths = r.success ? [] : r.error.issues.map((i) => i.path.join("."));
  assert.ok(paths.includes("quotaCeilings.cpu"));
  assert.ok(paths.includes("namespacePrefix"));
  assert.ok(r.success || r.error.issues.some((i) => i.code === "unrecognized_keys"));
});

test("allowedJarURIs takes remote jar locations and refuses entries that could never be safe", () => {
  const p = policySchema.parse({
    allowedJarURIs: [" s3://acme-jobs/releases ", "https://artifacts.acme.example/flink"],
  });
  assert.deepEqual(p.allowedJarURIs, ["s3://acme-jobs/releases", "https://artifacts.acme.example/flink"]);
  for (const [entry, reason] of [
    ["http://169.254.169.254/latest", /scheme "http:"/],
    ["https://169.254.169.254/", /cloud metadata/],
    ["file:///etc", /scheme "file:"/],
    ["local:///opt/flink/usrlib", /always allowed/],
    ["https://user:pw@artifacts.acme.example/", /user information/],
  ] as const) {
    const r = policySchema.safeParse({ allowedJarURIs: [entry] });
    assert.equal(r.success, false, entry);
    assert.match(r.success ? "" : (r.error.issues[0]?.message ?? ""), reason);
    assert.deepEqual(r.success ? [] : r.error.issues[0]?.path, ["allowedJarURIs", 0]);
  }
});
