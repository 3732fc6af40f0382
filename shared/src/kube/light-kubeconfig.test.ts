import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LightKubeConfig } from "./light-kubeconfig.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    "current-context": "c",
    contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
    clusters: [
      {
        name: "k",
        cluster: { server: "https://127.0.0.1:6443", "certificate-authority-data": b64("CA"), ...cluster },
      },
    ],
    users: [{ name: "u", user }],
  });
}

test("a token kubeconfig gives the server, the CA and a bearer header; a rewritten file is re-read", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lkc-"));
  const path = join(dir, "config");
  writeFileSync(path, kubeconfig({ token: "one" }));
  const kc = LightKubeConfig.fromFile(path);
  assert.equal(kc.getCurrentCluster().server, "https://127.0.0.1:6443");
  const opts: Record<string, unknown> & { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts);
  assert.equal(opts.ca, "CA");
  assert.equal(opts.headers?.Authorization, "Bearer one");
  writeFileSync(path, kubeconfig({ token: "two-longer" }));
  const again: Record<string, unknown> & { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(again);
  assert.equal(again.headers?.Authorization, "Bearer two-longer");
  assert.deepEqual(kc.createDispatcherOptions(undefined, { ca: "CA" }), {
    type: "agent",
    connect: { ca: "CA", keepAlive: true, keepAliveInitialDelay: 30_000 },
  });
});

test("client certificates are passed on; exec credentials are refused with a pointer to createKubeClient", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lkc-"));
  const path = join(dir, "config");
  writeFileSync(path, kubeconfig({ "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") }));
  const opts: Record<string, unknown> = {};
  await LightKubeConfig.fromFile(path).applyToHTTPSOptions(opts);
  assert.equal(opts.cert, "CERT");
  assert.equal(opts.key, "KEY");
  writeFileSync(path, kubeconfig({ exec: { command: "aws" } }));
  assert.throws(() => LightKubeConfig.fromFile(path), /createKubeClient/);
});

test("in a pod: the ServiceAccount token is read on every use (it rotates)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lkc-sa-"));
  writeFileSync(join(dir, "ca.crt"), "SA-CA");
  writeFileSync(join(dir, "token"), "t1\n");
  const kc = LightKubeConfig.inCluster(
    { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
    dir,
  );
  assert.equal(kc.getCurrentCluster().server, "https://10.0.0.1:443");
  const a: Record<string, unknown> & { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(a);
  assert.equal(a.headers?.Authorization, "Bearer t1");
  writeFileSync(join(dir, "token"), "t2\n");
  const b: Record<string, unknown> & { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(b);
  assert.equal(b.headers?.Authorization, "Bearer t2");
  assert.throws(() => LightKubeConfig.inCluster({}, dir), /KUBERNETES_SERVICE_HOST/);
});
