import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { z } from "zod";
import { refreshWorkspaceCredential } from "./credentials.ts";
import { classify, ProtocolError } from "./errors.ts";
import { jsonError, sleep, startFakeServer } from "./fake-server.testutil.ts";
import { createDispatcher, proxySettingsFromEnv, readLimited, requestJson } from "./http.ts";
import type { TokenSource } from "./token-source.ts";

/** The error a promise rejects with; fails the test if it resolves. */
const rejection = (p: Promise<unknown>): Promise<ProtocolError> =>
  p.then(
    () => assert.fail("expected the request to fail"),
    (e: ProtocolError) => e,
  );

test("requestJson sends auth, protocol and JSON headers and validates the answer", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  srv.handle((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "meridian-protocol-version": "1" });
    res.end(JSON.stringify({ n: 3 }));
  });
  const out = await requestJson(srv.endpoint(), {
    path: "/v1/x",
    body: { a: 1 },
    schema: z.object({ n: z.number() }),
  });
  assert.deepEqual(out, { n: 3 });
  const req = srv.seen[0]!;
  assert.equal(req.method, "POST");
  assert.equal(req.headers.authorization, "Bearer test-token-0123456789");
  assert.equal(req.headers["meridian-protocol-version"], "1");
  assert.equal(req.headers["content-type"], "application/json");
  assert.equal(req.body, '{"a":1}');
});

test("204 resolves undefined; an error body becomes a classified ProtocolError", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  srv.handle((req, res) => {
    if (req.url === "/ok") res.writeHead(204, { "meridian-protocol-version": "1" }).end();
    else jsonError(res, 403, "forbidden", "not your workspace");
  });
  assert.equal(await requestJson(srv.endpoint(), { path: "/ok", body: {} }), undefined);
  const err = await rejection(requestJson(srv.endpoint(), { path: "/no", body: {} }));
  assert.ok(err instanceof ProtocolError);
  assert.equal(err.status, 403);
  assert.equal(err.code, "forbidden");
  assert.equal(classify(err).kind, "fatal-backoff-long");
});

test("a 401 refreshes the token source and retries once; a second 401 rejects", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  let current = "old-token-0123456789";
  let refreshes = 0;
  const tokens: TokenSource = {
    token: async () => current,
    refresh: async () => {
      refreshes++;
      current = "new-token-0123456789";
    },
  };
  let accept = "new-token-0123456789";
  srv.handle((req, res) => {
    if (req.headers.authorization === `Bearer ${accept}`)
      res.writeHead(204, { "meridian-protocol-version": "1" }).end();
    else jsonError(res, 401, "unauthorized", "expired");
  });
  await requestJson(srv.endpoint(tokens), { path: "/s", body: {} });
  assert.equal(refreshes, 1);
  assert.deepEqual(
    srv.seen.map((s) => s.headers.authorization),
    ["Bearer old-token-0123456789", "Bearer new-token-0123456789"],
  );
  accept = "never";
  const err = await rejection(requestJson(srv.endpoint(tokens), { path: "/s", body: {} }));
  assert.equal(err.status, 401);
  assert.equal(refreshes, 2);
  assert.equal(srv.seen.length, 4, "exactly one retry per call");
});

test("a slow answer times out and is classified retry", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  srv.handle(async (_req, res) => {
    await sleep(500);
    res.writeHead(204).end();
  });
  const err = await rejection(requestJson(srv.endpoint(), { path: "/slow", body: {}, timeoutMs: 50 }));
  assert.ok(err instanceof ProtocolError);
  assert.equal(err.status, undefined);
  assert.equal(classify(err).kind, "retry");
});

test("an answer in another protocol version is refused as such", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  srv.handle((_req, res) => {
    res.writeHead(204, { "meridian-protocol-version": "2" }).end();
  });
  const err = await rejection(requestJson(srv.endpoint(), { path: "/s", body: {} }));
  assert.equal(err.code, "protocol_version_unsupported");
  assert.equal(classify(err).kind, "fatal-backoff-long");
});

test("proxy settings come from upper- or lower-case variables", () => {
  assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: "http://p:3128", no_proxy: "localhost" }), {
    httpsProxy: "http://p:3128",
    noProxy: "localhost",
  });
  assert.deepEqual(proxySettingsFromEnv({}), {});
});

test("the dispatcher goes through the proxy unless NO_PROXY names the host", async (t) => {
  const target = await startFakeServer();
  const proxy = await startFakeServer();
  t.after(() => Promise.all([target.close(), proxy.close()]));
  const ok = (_req: unknown, res: import("node:http").ServerResponse) =>
    void res.writeHead(204, { "meridian-protocol-version": "1" }).end();
  target.handle(ok);
  proxy.handle(ok);
  const tokens = { token: async () => "t-0123456789abcdef" };
  const viaProxy = createDispatcher({ proxy: { httpProxy: proxy.url } });
  const direct = createDispatcher({ proxy: { httpProxy: proxy.url, noProxy: "127.0.0.1" } });
  t.after(() => Promise.all([viaProxy.close(), direct.close()]));
  await requestJson({ baseUrl: target.url, dispatcher: viaProxy, tokens }, { path: "/a", body: {} });
  assert.equal(proxy.seen.length, 1);
  assert.equal(proxy.seen[0]!.url, `${target.url}/a`, "absolute-form request to the proxy");
  await requestJson({ baseUrl: target.url, dispatcher: direct, tokens }, { path: "/b", body: {} });
  assert.equal(proxy.seen.length, 1);
  assert.equal(target.seen.at(-1)!.url, "/b");
});

test("a custom CA makes a self-signed control plane trusted; without it TLS fails", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "meridian-ca-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await promisify(execFile)(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"]
      .concat(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
      .concat(["-keyout", "k.pem", "-out", "c.pem"]),
    { cwd: dir },
  );
  const [key, cert] = await Promise.all([readFile(join(dir, "k.pem")), readFile(join(dir, "c.pem"), "utf8")]);
  const srv = await startFakeServer(createHttpsServer({ key, cert }));
  t.after(() => srv.close());
  srv.handle((_req, res) => void res.writeHead(204, { "meridian-protocol-version": "1" }).end());
  const tokens = { token: async () => "t-0123456789abcdef" };
  const trusted = createDispatcher({ caFile: join(dir, "c.pem"), proxy: {} });
  const untrusted = createDispatcher({ proxy: {} });
  t.after(() => Promise.all([trusted.close(), untrusted.close()]));
  await requestJson({ baseUrl: srv.url, dispatcher: trusted, tokens }, { path: "/s", body: {} });
  const err = await rejection(
    requestJson({ baseUrl: srv.url, dispatcher: untrusted, tokens }, { path: "/s", body: {} }),
  );
  assert.ok(err instanceof ProtocolError);
  assert.equal(classify(err).kind, "retry");
  assert.throws(
    () => createDispatcher({ caFile: join(dir, "missing.pem") }),
    /cannot read the control plane CA file/,
  );
});

test("a redirect is never followed, for any 3xx and for a credential refresh too", async (t) => {
  const srv = await startFakeServer();
  const elsewhere = await startFakeServer();
  t.after(() => Promise.all([srv.close(), elsewhere.close()]));
  elsewhere.handle((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "meridian-protocol-version": "1" });
    res.end(
      JSON.stringify({
        workspaceId: "w1",
        token: "stolen-token-0123456789",
        expiresAt: "2099-01-01T00:00:00Z",
      }),
    );
  });
  let status = 301;
  srv.handle((req, res) => {
    res.writeHead(status, { location: `${elsewhere.url}${req.url}`, "meridian-protocol-version": "1" });
    res.end();
  });
  for (const s of [301, 302, 303, 307, 308]) {
    status = s;
    const err = await rejection(requestJson(srv.endpoint(), { path: "/v1/agents/a/status", body: {} }));
    assert.equal(err.status, s);
    assert.match(err.message, new RegExp(`http ${s}, a redirect to "${elsewhere.url}/v1/agents/a/status"`));
    assert.match(err.message, /never followed.*control-plane URL/);
    assert.equal(classify(err).kind, "fatal-backoff-long");
  }
  const refresh = await rejection(refreshWorkspaceCredential(srv.endpoint(), "w1"));
  assert.match(refresh.message, /credentials\/refresh: the control plane answered http 308, a redirect/);
  assert.equal(elsewhere.seen.length, 0, "the other host never saw a request");
});

test("an answer over the response limit is refused without reading it whole", async (t) => {
  const srv = await startFakeServer();
  t.after(() => srv.close());
  let written = 0;
  let finished = false;
  srv.handle(async (_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "meridian-protocol-version": "1" });
    const mib = Buffer.alloc(1024 * 1024, " ");
    for (let i = 0; i < 10 && !res.destroyed; i++) {
      if (!res.write(mib)) await new Promise((r) => res.once("drain", r).once("close", r));
      written += mib.length;
    }
    finished = !res.destroyed;
    res.end();
  });
  const err = await rejection(requestJson(srv.endpoint(), { path: "/s", body: {} }));
  assert.match(err.message, /larger than the 64 KiB limit of a control-plane answer/);
  await sleep(100);
  assert.ok(!finished || written < 10 * 1024 * 1024, "the client stopped reading");
  const { text, truncated } = await readLimited([Buffer.from("abcdef")], 4);
  assert.deepEqual({ text, truncated }, { text: "abcd", truncated: true });
});
