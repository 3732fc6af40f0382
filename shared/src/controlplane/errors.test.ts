import assert from "node:assert/strict";
import { test } from "node:test";
import { classify, describeNetworkError, errorFromResponse, ProtocolError, redirectError } from "./errors.ts";

const body = (code: string, message: string) => JSON.stringify({ error: { code, message } });

test("network errors, timeouts and 5xx are retried", () => {
  const refused = new TypeError("fetch failed", {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
  });
  assert.equal(classify(refused).kind, "retry");
  assert.match(classify(refused).reason, /ECONNREFUSED/);
  assert.equal(classify(new DOMException("timed out", "TimeoutError")).kind, "retry");
  assert.equal(classify(errorFromResponse("POST /x", 503, body("unavailable", "down"))).kind, "retry");
  assert.equal(classify(errorFromResponse("POST /x", 502, "<html>bad gateway</html>")).kind, "retry");
  assert.equal(classify(errorFromResponse("GET /x", 404, body("not_found", "no such"))).kind, "retry");
  assert.equal(classify(errorFromResponse("GET /x", 429, "")).kind, "retry");
});

test("401 asks for a credential refresh", () => {
  const c = classify(errorFromResponse("GET /s", 401, body("unauthorized", "token expired")));
  assert.equal(c.kind, "refresh-credential");
  assert.match(c.reason, /http 401 unauthorized: token expired/);
});

test("403, a version mismatch and other 4xx back off long", () => {
  const forbidden = classify(errorFromResponse("GET /s", 403, body("forbidden", "other workspace")));
  assert.equal(forbidden.kind, "fatal-backoff-long");
  assert.match(forbidden.reason, /other workspace/);
  const version = classify(errorFromResponse("GET /s", 400, body("protocol_version_unsupported", "v9")));
  assert.equal(version.kind, "fatal-backoff-long");
  assert.match(version.reason, /different protocol versions/);
  assert.equal(
    classify(errorFromResponse("POST /s", 400, body("invalid", "bad"))).kind,
    "fatal-backoff-long",
  );
});

test("a ProtocolError anywhere in the cause chain decides", () => {
  const inner = errorFromResponse("GET /s", 403, body("forbidden", "no"));
  const outer = new Error("dial failed", { cause: inner });
  assert.equal(classify(outer).kind, "fatal-backoff-long");
});

test("a network ProtocolError (no status) is retried and keeps its cause", () => {
  const cause = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  const e = new ProtocolError("POST /s failed", { cause });
  assert.equal(e.cause, cause);
  assert.equal(classify(e).kind, "retry");
  assert.match(describeNetworkError(e), /POST \/s failed: socket hang up \(ECONNRESET\)/);
});

test("a non-protocol body keeps the status and a short excerpt", () => {
  const e = errorFromResponse("GET /s", 502, `<html>\n  ${"x".repeat(500)}</html>`);
  assert.equal(e.status, 502);
  assert.equal(e.code, undefined);
  assert.ok(e.message.length < 220);
});

test("a redirect backs off long and names where it pointed and the setting to change", () => {
  const e = redirectError("GET /v1/agents/a/stream", 301, "https://u:pw@elsewhere.example/x", "https://cp/y");
  assert.equal(e.status, 301);
  assert.match(e.message, /http 301, a redirect to "https:\/\/u:redacted@elsewhere\.example\/x"/);
  assert.match(e.message, /never followed.*--control-plane-url/);
  assert.doesNotMatch(e.message, /pw/);
  assert.equal(classify(e).kind, "fatal-backoff-long");
  const relative = redirectError("POST /s", 307, "/v2/s\r\nx", "http://127.0.0.1:9/s");
  assert.match(relative.message, /a redirect to "http:\/\/127\.0\.0\.1:9\/v2\/s/);
  assert.match(redirectError("POST /s", 302, null, "http://h/").message, /without a Location header/);
  for (const status of [300, 304, 308])
    assert.equal(classify(errorFromResponse("GET /s", status, "")).kind, "fatal-backoff-long");
});

test("a token the server repeats in an error body or a Location is cut out of the reason", () => {
  const token = "mrd_agent_abc/DEF+ghi=";
  const echoed = errorFromResponse("GET /s", 500, body("unavailable", `bad token Bearer ${token}`), token);
  assert.equal(echoed.message, "GET /s: http 500 unavailable: bad token Bearer [REDACTED]");
  assert.equal(echoed.serverMessage, "bad token Bearer [REDACTED]");
  const excerpt = errorFromResponse("GET /s", 502, `<p>${token}</p>`, token);
  assert.ok(!excerpt.message.includes(token), excerpt.message);
  const moved = redirectError(
    "GET /s",
    307,
    `http://evil.example/?t=${encodeURIComponent(token)}`,
    "http://cp/s",
    token,
  );
  assert.match(moved.message, /a redirect to "http:\/\/evil\.example\/\?t=\[REDACTED\]"/);
  assert.ok(!moved.message.includes(encodeURIComponent(token)));
});

test("a control-plane certificate the agent does not trust says which CA setting to fix", () => {
  const tls = Object.assign(new Error("self-signed certificate in certificate chain"), {
    code: "SELF_SIGNED_CERT_IN_CHAIN",
  });
  const err = new ProtocolError("stream: no stream from https://cp.example", {
    cause: new TypeError("fetch failed", { cause: tls }),
  });
  const c = classify(err);
  assert.equal(c.kind, "retry");
  assert.match(c.reason, /self-signed certificate in certificate chain \(SELF_SIGNED_CERT_IN_CHAIN\)/);
  assert.match(c.reason, /TLS certificate is not trusted: give the agent the CA that signed it \(--ca-file/);
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
  assert.doesNotMatch(describeNetworkError(refused), /not trusted/);
});
