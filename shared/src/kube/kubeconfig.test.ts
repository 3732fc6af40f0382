import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { inClusterAuth, loadKubeconfigFile } from "./kubeconfig.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubeconfig-test-"));
});
after(() => rm(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString("base64");
const doc = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) =>
  JSON.stringify({
    "current-context": "c",
    clusters: [{ name: "k", cluster: { server: "https://10.0.0.1:6443/", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "c", context: { cluster: "k", user: "u", namespace: "team" } }],
  });

test("certificate users with inline data and relative files", async () => {
  await writeFile(join(dir, "ca.pem"), "CA-PEM");
  await writeFile(
    join(dir, "c1"),
    doc(
      { "client-certificate-data": b64("CERT"), "client-key": "key.pem" },
      { "certificate-authority": "ca.pem" },
    ),
  );
  await writeFile(join(dir, "key.pem"), "KEY");
  const auth = loadKubeconfigFile(join(dir, "c1"));
  assert.equal(auth.server, "https://10.0.0.1:6443");
  assert.deepEqual(auth.tls, { ca: "CA-PEM", cert: "CERT", key: "KEY" });
  assert.equal(auth.namespace, "team");
  assert.deepEqual(await auth.headers(), {});
});

test("tokens, token files and basic auth become Authorization headers", async () => {
  await writeFile(join(dir, "c2"), doc({ token: "abc" }, { "insecure-skip-tls-verify": true }));
  const a = loadKubeconfigFile(join(dir, "c2"));
  assert.deepEqual(await a.headers(), { authorization: "Bearer abc" });
  assert.equal(a.tls.rejectUnauthorized, false);
  await writeFile(join(dir, "tok"), "from-file\n");
  await writeFile(join(dir, "c3"), doc({ tokenFile: "tok" }));
  assert.deepEqual(await loadKubeconfigFile(join(dir, "c3")).headers(), {
    authorization: "Bearer from-file",
  });
  await writeFile(join(dir, "c4"), doc({ username: "u", password: "p" }));
  assert.deepEqual(await loadKubeconfigFile(join(dir, "c4")).headers(), {
    authorization: `Basic ${b64("u:p")}`,
  });
});

test("a rewritten kubeconfig is re-read: the new token is used, a token file is followed as it rotates", async () => {
  const path = join(dir, "rewritten");
  await writeFile(path, doc({ token: "one" }));
  const a = loadKubeconfigFile(path, undefined, { rereadMs: 0 });
  assert.deepEqual(await a.headers(), { authorization: "Bearer one" });
  await writeFile(path, doc({ token: "two-longer" }));
  assert.deepEqual(await a.headers(), { authorization: "Bearer two-longer" });
  const cached = loadKubeconfigFile(path);
  await writeFile(path, doc({ token: "three" }));
  assert.deepEqual(await cached.headers(), { authorization: "Bearer two-longer" }, "not before rereadMs");
  await writeFile(join(dir, "rot"), "t1\n");
  await writeFile(join(dir, "c7"), doc({ tokenFile: "rot" }));
  const f = loadKubeconfigFile(join(dir, "c7"), undefined, { rereadMs: 0 });
  assert.deepEqual(await f.headers(), { authorization: "Bearer t1" });
  await writeFile(join(dir, "rot"), "t2\n");
  assert.deepEqual(await f.headers(), { authorization: "Bearer t2" });
});

test("an exec plugin's token is used and cached until it expires", async () => {
  const plugin = join(dir, "plugin.mjs");
  const counter = join(dir, "count");
  await writeFile(
    plugin,
    `import { appendFileSync } from "node:fs";
appendFileSync(${JSON.stringify(counter)}, "x");
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: "ExecCredential", status: { token: "exec-" + process.env.EXTRA, expirationTimestamp: new Date(Date.now() + 3600e3).toISOString() } }));`,
  );
  await writeFile(
    join(dir, "c5"),
    doc({
      exec: {
        command: process.execPath,
        args: [plugin],
        env: [{ name: "EXTRA", value: "1" }],
        apiVersion: "client.authentication.k8s.io/v1",
      },
    }),
  );
  const a = loadKubeconfigFile(join(dir, "c5"));
  assert.deepEqual(await a.headers(), { authorization: "Bearer exec-1" });
  await a.headers();
  const { readFile } = await import("node:fs/promises");
  assert.equal(await readFile(counter, "utf8"), "x", "ran once");
});

test("in-cluster: the service host, the CA and a token re-read from its file; clear errors otherwise", async () => {
  const sa = join(dir, "sa");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(sa);
  await writeFile(join(sa, "ca.crt"), "SA-CA");
  await writeFile(join(sa, "token"), "sa-token");
  await writeFile(join(sa, "namespace"), "meridian-system");
  const a = inClusterAuth({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, sa);
  assert.equal(a.server, "https://[fd00::1]:443");
  assert.equal(a.tls.ca, "SA-CA");
  assert.equal(a.namespace, "meridian-system");
  assert.deepEqual(await a.headers(), { authorization: "Bearer sa-token" });
  assert.throws(() => inClusterAuth({}, sa), /KUBERNETES_SERVICE_HOST is unset/);
  assert.throws(() => loadKubeconfigFile(join(dir, "missing")), /cannot read the kubeconfig/);
  await writeFile(join(dir, "c6"), JSON.stringify({ "current-context": "nope", contexts: [] }));
  assert.throws(() => loadKubeconfigFile(join(dir, "c6")), /has no context "nope"/);
});
