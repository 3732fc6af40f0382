import assert from "node:assert/strict";
import { test } from "node:test";
import { checkStorageUri, isWithin, storageEntryProblem } from "./storage-uris.ts";

test("without policy entries any object store is allowed, file:// never", () => {
  for (const uri of [
    "s3://acme/flink",
    "s3a://acme/flink",
    "abfss://state@acme.dfs.core.windows.net/f",
    "wasbs://state@acme.blob.core.windows.net/f",
  ])
    assert.deepEqual(checkStorageUri(uri, []), { allowed: true }, uri);
  const r = checkStorageUri("file:///flink-data/state", []);
  assert.equal(r.allowed, false);
  assert.match(
    r.allowed ? "" : r.reason,
    /^storage\.baseURI on file:\/\/\/flink-data\/state is refused: file:\/\/ is pod-local storage/,
  );
});

test("with entries a location must lie under one, at a path boundary; file:// only under a file:// entry", () => {
  const policy = ["s3://acme-state/flink", "file:///flink-data"];
  assert.deepEqual(checkStorageUri("s3://acme-state/flink/team-a", policy), { allowed: true });
  assert.deepEqual(checkStorageUri("S3://ACME-STATE/flink", policy), { allowed: true });
  assert.deepEqual(checkStorageUri("file:///flink-data/team-a", policy), { allowed: true });
  for (const uri of [
    "s3://acme-state/flink-evil",
    "s3://acme-state/other",
    "s3a://acme-state/flink",
    "s3://other/flink",
    "file:///etc",
  ]) {
    const r = checkStorageUri(uri, policy);
    assert.equal(r.allowed, false, uri);
    assert.match(
      r.allowed ? "" : r.reason,
      /storage\.allowedURIs: s3:\/\/acme-state\/flink, file:\/\/\/flink-data/,
    );
  }
});

test("policy entries are checked like URIs; isWithin compares canonically at a boundary", () => {
  assert.equal(storageEntryProblem("s3://acme/flink"), undefined);
  assert.match(
    storageEntryProblem("https://acme/flink") ?? "",
    /storage\.allowedURIs entry has scheme "https:"/,
  );
  assert.match(storageEntryProblem("s3://a/x,s3://b") ?? "", /comma/);
  assert.equal(isWithin("s3://Acme/flink/orders/sp", "s3://acme/flink/orders"), true);
  assert.equal(isWithin("s3://acme/flink/orders-2", "s3://acme/flink/orders"), false);
  assert.equal(isWithin("s3://acme/flink/orders/../x", "s3://acme/flink/orders"), false);
});
