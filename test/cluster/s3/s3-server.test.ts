// The tests' S3 server is real S3 over HTTP: it refuses unsigned and wrongly signed requests, and
// what one client puts another lists and reads back through the S3 API.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type S3Server, startS3Server } from "./s3-server.ts";

let dir: string;
let s3: S3Server;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-s3-"));
  s3 = await startS3Server({ dir });
});
after(async () => {
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("objects put through the signed S3 API are listed and read back, keys with odd characters included", async () => {
  await s3.createBucket("flink-state");
  const keys = ["ws/orders/savepoints/savepoint-1/_metadata", "ws/orders/a b+c=d,e.txt", "ws/other/x"];
  for (const k of keys) await s3.putObject("flink-state", k, `body of ${k}`);
  assert.deepEqual(await s3.listObjects("flink-state", "ws/orders/"), keys.slice(0, 2).sort());
  assert.equal((await s3.getObject("flink-state", keys[1]!))?.toString(), `body of ${keys[1]}`);
  assert.equal(await s3.getObject("flink-state", "ws/none"), undefined);
});

test("a request without the keys is refused", async () => {
  const anonymous = await fetch(`${s3.endpoint}/flink-state?list-type=2`);
  assert.equal(anonymous.status, 403);
  const wrong = await s3.request("GET", "/flink-state?list-type=2", {
    credentials: { ...s3.credentials, secretAccessKey: "not-the-secret" },
  });
  assert.equal(wrong.status, 403);
});
