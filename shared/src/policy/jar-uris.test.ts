import assert from "node:assert/strict";
import { test } from "node:test";
import { checkJarUri, jarUriEntryProblem } from "./jar-uris.ts";

/** A customer policy that opens a few remote locations. */
const POLICY = [
  "s3://acme-flink-jobs/releases",
  "gs://acme-jobs",
  "https://artifacts.acme.example/flink/",
  "abfss://jobs@acmestore.dfs.core.windows.net/flink",
];

test("local:// paths inside the image are allowed by default", () => {
  for (const uri of [
    "local:///opt/flink/usrlib/job.jar",
    "local:///opt/flink/examples/streaming/TopSpeedWindowing.jar",
    "local:///app/my%20job.jar",
    "LOCAL:///opt/job.jar",
  ])
    assert.deepEqual(checkJarUri(uri, []), { allowed: true }, uri);
});

test("remote locations are allowed only under an entry of the policy, at a path boundary", () => {
  for (const uri of [
    "s3://acme-flink-jobs/releases/v1/job.jar",
    "S3://ACME-FLINK-JOBS/releases/job.jar",
    "gs://acme-jobs/any/path/job.jar",
    "https://artifacts.acme.example/flink/job-1.2.jar",
    "abfss://jobs@acmestore.dfs.core.windows.net/flink/job.jar",
  ])
    assert.deepEqual(checkJarUri(uri, POLICY), { allowed: true }, uri);
  for (const uri of [
    "s3://acme-flink-jobs/releases-evil/job.jar",
    "s3://acme-flink-jobs/other/job.jar",
    "s3a://acme-flink-jobs/releases/job.jar",
    "s3://acme-flink-jobs.evil.example/releases/job.jar",
    "gs://acme-jobs-evil/job.jar",
    "https://artifacts.acme.example.evil.example/flink/job.jar",
    "https://artifacts.acme.example:8443/flink/job.jar",
    "abfss://other@acmestore.dfs.core.windows.net/flink/job.jar",
  ]) {
    const r = checkJarUri(uri, POLICY);
    assert.equal(r.allowed, false, uri);
    assert.match(r.allowed ? "" : r.reason, /is not under an allowed jar location \(allowedJarURIs: /, uri);
  }
  const r = checkJarUri("s3://acme-flink-jobs/releases/job.jar", []);
  assert.match(r.allowed ? "" : r.reason, /the local policy allows only local:\/\/ paths inside the image/);
});

/** Hostile jar URIs, each with what its refusal must say. Refused whatever the policy allows. */
const HOSTILE: Array<[string, RegExp]> = [
  ["http://169.254.169.254/latest/meta-data/iam/security-credentials/", /scheme "http:"/],
  [
    "https://169.254.169.254/latest/meta-data/",
    /169\.254\.169\.254, a loopback, link-local or cloud metadata/,
  ],
  ["https://2852039166/job.jar", /points at 169\.254\.169\.254/],
  ["https://0xa9.0xfe.0xa9.0xfe/job.jar", /points at 169\.254\.169\.254/],
  ["https://0251.0376.0251.0376/job.jar", /points at 169\.254\.169\.254/],
  ["https://169.254.43518/job.jar", /points at 169\.254\.169\.254/],
  ["https://[::ffff:169.254.169.254]/job.jar", /link-local or cloud metadata/],
  ["https://[fd00:ec2::254]/latest/meta-data/", /link-local or cloud metadata/],
  ["https://[fe80::1]/job.jar", /link-local/],
  ["https://[::1]/job.jar", /loopback/],
  ["https://127.0.0.1:8081/jars", /points at 127\.0\.0\.1/],
  ["https://127.1/job.jar", /points at 127\.0\.0\.1/],
  ["https://0.0.0.0/job.jar", /points at 0\.0\.0\.0/],
  ["https://100.100.100.200/latest/meta-data/", /cloud metadata/],
  ["https://metadata.google.internal/computeMetadata/v1/", /metadata\.google\.internal/],
  ["https://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/", /metadata\.google\.internal/],
  ["gs://metadata.google.internal/job.jar", /metadata\.google\.internal/],
  ["https://metadata/computeMetadata/v1/", /points at metadata,/],
  ["https://localhost/job.jar", /points at localhost/],
  ["https://api.localhost/job.jar", /points at api\.localhost/],
  ["s3://169.254.169.254/job.jar", /points at 169\.254\.169\.254/],
  ["file:///etc/passwd", /scheme "file:"/],
  ["file:/opt/flink/usrlib/job.jar", /scheme "file:"/],
  ["hdfs://namenode/job.jar", /scheme "hdfs:"/],
  ["ftp://example.com/job.jar", /scheme "ftp:"/],
  ["jar:https://example.com/x.jar!/", /scheme "jar:"/],
  ["data:application/java-archive;base64,UEsDBA==", /scheme "data:"/],
  ["javascript:alert(1)", /scheme "javascript:"/],
  ["/opt/flink/usrlib/job.jar", /has no scheme/],
  ["job.jar", /has no scheme/],
  ["local://opt/flink/usrlib/job.jar", /local:\/\/ takes an absolute path inside the image and no host/],
  ["local:/opt/flink/usrlib/job.jar", /local:\/\/ takes an absolute path/],
  ["local://", /local:\/\/ takes an absolute path/],
  ["local:///opt/flink/usrlib/../../../etc/passwd", /'\.' or '\.\.' path segments/],
  ["local:///opt/flink/usrlib/%2e%2e/%2E%2E/etc/passwd", /'\.' or '\.\.' path segments/],
  ["local:///opt/flink/./usrlib/job.jar", /'\.' or '\.\.' path segments/],
  ["local:///opt/flink/usrlib/..%2f..%2fetc/passwd", /hide '\/'/],
  ["local:///opt/flink/usrlib/%5c..%5cjob.jar", /hide '\/', '\\'/],
  ["local:///opt/flink/usrlib/job%00.jar", /control characters in percent-encoding/],
  ["local:///opt/flink/usrlib/%zz.jar", /malformed percent-encoding/],
  ["local:///opt//flink/job.jar", /empty path segments/],
  ["local:///proc/self/environ", /\/proc, \/sys or \/dev/],
  ["local:///dev/stdin", /\/proc, \/sys or \/dev/],
  ["local:///opt/flink/usrlib/job.jar\nrest.port: 1", /ASCII characters without spaces, control characters/],
  ["local:///opt/flink/usrlib/my job.jar", /without spaces/],
  ["local:///opt\\flink\\job.jar", /backslashes/],
  ["local:///opt/flink/usrlib/jöb.jar", /ASCII/],
  ["https://user:secret@artifacts.acme.example/flink/job.jar", /must not carry user information/],
  ["s3://AKIA:secret@acme-flink-jobs/releases/job.jar", /must not carry user information/],
  ["https://artifacts.acme.example@169.254.169.254/flink/", /must not carry user information/],
  ["https://artifacts.acme.example/flink/job.jar?X-Amz-Signature=abc", /must not carry a query/],
  ["https://artifacts.acme.example/flink/job.jar#frag", /must not carry a query or a fragment/],
  ["s3://acme-flink-jobs:443/releases/job.jar", /must not name a port for s3:/],
  ["https://%31%36%39.254.169.254/job.jar", /invalid host name/],
  ["https://[::1%25eth0]/job.jar", /invalid IPv6 address/],
  ["https://999.999.999.999/job.jar", /invalid IPv4 address/],
  ["https:///job.jar", /has no host/],
  ["https:artifacts.acme.example/job.jar", /must be https:\/\/<location>\/<path>/],
];

test("hostile jar URIs are refused with a named reason, even under the most open policy", () => {
  const open = [...POLICY, "https://169.254.169.254", "https://localhost", "s3://acme-flink-jobs"];
  for (const [uri, reason] of HOSTILE) {
    const r = checkJarUri(uri, open);
    assert.equal(r.allowed, false, uri);
    const text = r.allowed ? "" : r.reason;
    assert.match(text, /^jarURI /, uri);
    assert.match(text, reason, `${uri}: ${text}`);
  }
});

test("a refusal never repeats the URI's credentials or query", () => {
  for (const uri of [
    "https://user:hunter2@artifacts.acme.example/flink/job.jar",
    "https://artifacts.acme.example/flink/job.jar?sig=hunter2",
    "s3://other-bucket/hunter2/job.jar",
  ]) {
    const r = checkJarUri(uri, POLICY);
    assert.equal(r.allowed, false);
    assert.ok(!(r.allowed ? "" : r.reason).includes("hunter2"), uri);
  }
});

test("policy entries: remote locations only, with the same never-allowed rules", () => {
  for (const entry of POLICY) assert.equal(jarUriEntryProblem(entry), undefined, entry);
  for (const [entry, reason] of [
    ["local:///opt/flink/usrlib", /always allowed/],
    ["http://artifacts.acme.example/", /scheme "http:"/],
    ["https://169.254.169.254/", /cloud metadata/],
    ["https://metadata.google.internal", /metadata\.google\.internal/],
    ["s3://user:pw@bucket", /user information/],
    ["s3://bucket/a,s3://other", /comma/],
    ["s3://bucket/../other", /'\.\.'/],
    ["*", /has no scheme/],
  ] as const)
    assert.match(jarUriEntryProblem(entry) ?? "", reason, entry);
});
