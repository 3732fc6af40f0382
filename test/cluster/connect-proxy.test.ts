// The e2e test's proxy really demands its password: undici's ProxyAgent (what the agents dial an
// https control plane through) with the URL's credentials gets a CONNECT tunnel to a TLS server on
// loopback; one with another password or none is refused with 407.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ProxyAgent, request } from "undici";
import { CertificateAuthority } from "./certs.ts";
import { type ConnectProxy, startConnectProxy } from "./connect-proxy.ts";

let proxy: ConnectProxy;
let target: Server;
let targetUrl: string;
let caPem: string;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-proxy-"));
  const ca = await CertificateAuthority.create(dir, "ca", "meridian-proxy-test-ca");
  const cert = await ca.issue({
    name: "target",
    commonName: "target",
    hosts: ["127.0.0.1"],
    usage: "server",
  });
  caPem = ca.cert.certPem;
  proxy = await startConnectProxy({ user: "meridian", password: "p@ss:word/1" });
  target = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end("through"));
  await new Promise<void>((r) => target.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  targetUrl = `https://127.0.0.1:${(target.address() as { port: number }).port}/`;
});

after(async () => {
  await proxy?.stop();
  target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function via(proxyUrl: string): Promise<string> {
  const dispatcher = new ProxyAgent({ uri: proxyUrl, requestTls: { ca: caPem } });
  try {
    const res = await request(targetUrl, { dispatcher, signal: AbortSignal.timeout(10_000) });
    return await res.body.text();
  } finally {
    await dispatcher.close();
  }
}

test("with the URL's user and password the request goes through one counted tunnel", async () => {
  assert.match(proxy.url, /^http:\/\/meridian:p%40ss%3Aword%2F1@127\.0\.0\.1:\d+$/);
  assert.equal(await via(proxy.url), "through");
  assert.equal(proxy.tunnels().get(new URL(targetUrl).host), 1);
});

test("a wrong password or none is refused with 407 and opens no tunnel", async () => {
  const before = proxy.refused();
  const wrong = proxy.url.replace("p%40ss", "nope");
  await assert.rejects(via(wrong), /407|Proxy/);
  await assert.rejects(via(proxy.url.replace(/\/\/[^@]*@/, "//")), /407|Proxy/);
  assert.equal(proxy.refused(), before + 2);
  assert.equal(proxy.tunnels().get(new URL(targetUrl).host), 1);
});
