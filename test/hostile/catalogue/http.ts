// Hostile HTTP behaviour of the control plane toward the agent: answers to the stream that are not
// an event stream, every 4xx/5xx the protocol knows and some it does not, with and without
// Retry-After, bodies and headers too large to hold, a gzip bomb, broken chunked framing, bytes that
// are not HTTP, resets, stalls and slow drips; answers to the status POST and to the credential
// request that are too large, too slow, malformed or for someone else. For each: the named reason in
// a log line, and the number of requests in a window — it keeps trying, but never in a tight loop.
import { gzipSync } from "node:zlib";
import type { HostileRequest } from "../server.ts";
import { lines, workspace } from "./bytes.ts";
import type { HttpExpectation, HttpInput, HttpRoute } from "./types.ts";

const DISCONNECTED = /^stream disconnected, redialling$/;
const FATAL = /^the control plane refuses this stream/;
const STATUS_FAILED = /^status report failed; retrying$/;
const NO_CREDENTIAL = /^no workspace credential; retrying$/;
const MiB = 1024 * 1024;

/** A retried failure: at least two requests in 2 s, and far fewer than a loop would make. */
const retried = (msg: RegExp, reason: RegExp): HttpExpectation => ({
  log: { msg, reason },
  windowMs: 2000,
  min: 2,
  max: 12,
});
/** A failure that cannot succeed unchanged: one request, then the long backoff. */
const fatal = (reason: RegExp): HttpExpectation => ({
  log: { msg: FATAL, reason },
  windowMs: 2000,
  min: 1,
  max: 1,
});

const input = (route: HttpRoute, e: Omit<HttpInput, "class" | "route">): HttpInput => ({
  ...e,
  route,
  class: "http",
});
const stream = (e: Omit<HttpInput, "class" | "route">) => input("stream", e);
const status = (e: Omit<HttpInput, "class" | "route">) => input("status", e);
const credentials = (e: Omit<HttpInput, "class" | "route">) => input("credentials", e);

const errorBody = (code: string, message: string) => JSON.stringify({ error: { code, message } });
const SSE_HEADERS = "content-type: text/event-stream\r\nmeridian-protocol-version: 1\r\n";
/** A credential answer for the workspace the request names, with `over` in it. */
const credential = (req: HostileRequest, over: Record<string, unknown>) =>
  JSON.stringify({
    workspaceId: decodeURIComponent(/\/workspaces\/([^/]+)\/credentials/.exec(req.path)?.[1] ?? ""),
    token: `hostile_${"c".repeat(32)}`,
    expiresAt: new Date(Date.now() + 900_000).toISOString(),
    ...over,
  });

/** `data: ` and 64 MiB of `x`, gzip-compressed to about 64 KiB (gzip members concatenated). */
function gzipBomb(): (string | Uint8Array | { repeat: Uint8Array; times: number })[] {
  return [gzipSync("data: "), { repeat: gzipSync(Buffer.alloc(MiB, "x")), times: 64 }, gzipSync("\n\n")];
}

export const http: HttpInput[] = [
  stream({
    name: "stream-json-content-type",
    what: "200 with content-type application/json and a JSON body",
    answers: () => [
      { headers: { "content-type": "application/json" }, body: ['{"workspaces":[]}'], after: "end" },
    ],
    expect: retried(DISCONNECTED, /"application\/json", not text\/event-stream; is a proxy in the way\?/),
  }),
  stream({
    name: "stream-lookalike-content-type",
    what: "200 with content-type text/event-streams",
    answers: () => [{ headers: { "content-type": "text/event-streams" }, after: "end" }],
    expect: retried(DISCONNECTED, /"text\/event-streams", not text\/event-stream/),
  }),
  stream({
    name: "stream-no-content-type",
    what: "200 without a content type",
    answers: () => [
      {
        headers: { "content-type": null },
        body: [lines(["id: 9", "event: snapshot", 'data: {"workspaces":[]}'])],
        after: "end",
      },
    ],
    expect: retried(DISCONNECTED, /the answer is "", not text\/event-stream/),
  }),
  stream({
    name: "stream-html",
    what: "200 with a proxy's HTML login page",
    answers: () => [
      { headers: { "content-type": "text/html" }, body: ["<html><form>login</form></html>"], after: "end" },
    ],
    expect: retried(DISCONNECTED, /"text\/html", not text\/event-stream/),
  }),
  stream({
    name: "stream-empty-200",
    what: "200 event stream that ends at once, empty",
    answers: () => [{ body: [], after: "end" }],
    expect: retried(DISCONNECTED, /the control plane ended the stream/),
  }),
  stream({
    name: "stream-204",
    what: "204 No Content",
    answers: () => [{ status: 204 }],
    expect: retried(DISCONNECTED, /http 204 without a protocol error body/),
  }),
  stream({
    name: "stream-401-storm",
    what: "401 to every request, a fresh token read each time",
    answers: () => [{ status: 401, body: [errorBody("unauthorized", "token not recognised")] }],
    expect: retried(DISCONNECTED, /http 401 unauthorized: token not recognised — the token was refused/),
  }),
  stream({
    name: "stream-403",
    what: "403 Forbidden",
    answers: () => [{ status: 403, body: [errorBody("forbidden", "agent suspended")] }],
    expect: fatal(/http 403 forbidden: agent suspended/),
  }),
  stream({
    name: "stream-404",
    what: "404 for the agent's stream",
    answers: () => [{ status: 404, body: [errorBody("not_found", "no such agent")] }],
    expect: retried(DISCONNECTED, /http 404 not_found: no such agent/),
  }),
  stream({
    name: "stream-410",
    what: "410 Gone",
    answers: () => [{ status: 410, body: ["gone"] }],
    expect: fatal(/http 410 without a protocol error body \(gone\)/),
  }),
  stream({
    name: "stream-429",
    what: "429 without Retry-After",
    answers: () => [{ status: 429, body: [errorBody("unavailable", "slow down")] }],
    expect: retried(DISCONNECTED, /http 429 unavailable: slow down/),
  }),
  stream({
    name: "stream-429-retry-after-zero",
    what: "429 with Retry-After: 0, inviting a tight loop",
    answers: () => [{ status: 429, headers: { "retry-after": "0" }, body: ["slow down"] }],
    expect: retried(DISCONNECTED, /http 429 without a protocol error body \(slow down\)/),
  }),
  stream({
    name: "stream-429-retry-after-years",
    what: "429 with Retry-After of 30 years: the agent's own capped backoff still applies",
    answers: () => [{ status: 429, headers: { "retry-after": "999999999" }, body: ["later"] }],
    expect: retried(DISCONNECTED, /http 429 without a protocol error body \(later\)/),
  }),
  stream({
    name: "stream-500-storm",
    what: "500 to every request",
    answers: () => [{ status: 500, body: ["oops"] }],
    expect: retried(DISCONNECTED, /http 500 without a protocol error body \(oops\)/),
  }),
  stream({
    name: "stream-503-huge-html",
    what: "503 with a 4 MiB HTML page",
    answers: () => [
      {
        status: 503,
        headers: { "content-type": "text/html" },
        body: ["<html>", { repeat: "<p>busy</p>".repeat(1000), times: 400 }],
      },
    ],
    expect: retried(DISCONNECTED, /http 503 without a protocol error body \(<html><p>busy<\/p>/),
  }),
  stream({
    name: "stream-502-giant-message",
    what: "502 with a protocol error body whose message is 1 MiB",
    answers: () => [{ status: 502, body: [errorBody("unavailable", "m".repeat(MiB))] }],
    expect: retried(
      DISCONNECTED,
      /http 502 without a protocol error body \(\{"error":\{"code":"unavailable","message":"m{60}/,
    ),
  }),
  stream({
    name: "stream-error-echoes-token",
    what: "500 whose error message repeats the request's Authorization header",
    answers: () => [
      (req) => ({
        status: 500,
        body: [errorBody("unavailable", `cannot serve ${req.headers.authorization}`)],
      }),
    ],
    expect: retried(DISCONNECTED, /http 500 unavailable: cannot serve Bearer \[REDACTED\]/),
  }),
  stream({
    name: "stream-redirect-carries-token",
    what: "307 to a Location whose query holds the agent's token",
    answers: () => [
      (req) => ({
        status: 307,
        headers: { location: `http://evil.example/steal?t=${String(req.headers.authorization).slice(7)}` },
      }),
    ],
    expect: fatal(
      /a redirect to "http:\/\/evil\.example\/steal\?t=\[REDACTED\]"; redirects are never followed/,
    ),
  }),
  stream({
    name: "stream-protocol-v2",
    what: "200 event stream announcing protocol version 2",
    answers: () => [{ headers: { "meridian-protocol-version": "2" } }],
    expect: fatal(/speaks protocol version 2, this agent speaks 1; upgrade the agent/),
  }),
  stream({
    name: "stream-huge-header",
    what: "200 with a 100 KiB header",
    answers: () => [{ headers: { "x-padding": "p".repeat(100 * 1024) } }],
    expect: retried(DISCONNECTED, /no stream from http:\/\/127\.0\.0\.1:\d+: .*(Headers Overflow|header)/i),
  }),
  stream({
    name: "stream-gzip-bomb",
    what: "a gzip-encoded event stream that inflates to 64 MiB of one data line (no keep-alives after it, which would be no gzip)",
    answers: () => [{ headers: { "content-encoding": "gzip" }, body: gzipBomb(), keepAliveMs: 0 }],
    expect: {
      log: {
        msg: /^event rejected/,
        reason: /^event "message" exceeds the 1 MiB limit of one event; its data was skipped unread$/,
      },
      windowMs: 2000,
      min: 1,
      max: 1,
    },
  }),
  stream({
    name: "stream-chunk-size-garbage",
    what: "chunked encoding with a chunk size that is no hex number",
    answers: () => [
      {
        raw: [`HTTP/1.1 200 OK\r\n${SSE_HEADERS}transfer-encoding: chunked\r\n\r\nZZ\r\nhello\r\n`],
        after: "hold",
      },
    ],
    expect: retried(DISCONNECTED, /the stream broke off/),
  }),
  stream({
    name: "stream-chunk-size-overflow",
    what: "chunked encoding announcing a chunk of 2^68 - 1 bytes, more than a 64-bit size holds",
    answers: () => [
      {
        raw: [
          `HTTP/1.1 200 OK\r\n${SSE_HEADERS}transfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello`,
        ],
        after: "hold",
      },
    ],
    expect: retried(DISCONNECTED, /the stream broke off/),
  }),
  stream({
    name: "stream-chunked-and-length",
    what: "both Transfer-Encoding: chunked and Content-Length (a request-smuggling shape)",
    answers: () => [
      {
        raw: [
          `HTTP/1.1 200 OK\r\n${SSE_HEADERS}transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n5\r\nhello\r\n`,
        ],
        after: "hold",
      },
    ],
    expect: retried(DISCONNECTED, /no stream from|the stream broke off|ended the stream/),
  }),
  stream({
    name: "stream-not-http",
    what: "an SSH banner instead of an HTTP answer",
    answers: () => [{ raw: ["SSH-2.0-OpenSSH_9.6\r\n"], after: "end" }],
    expect: retried(DISCONNECTED, /no stream from http:\/\/127\.0\.0\.1:\d+/),
  }),
  stream({
    name: "stream-reset-before-answer",
    what: "a TCP reset instead of an answer",
    answers: () => [{ raw: [], after: "destroy" }],
    expect: retried(DISCONNECTED, /no stream from http:\/\/127\.0\.0\.1:\d+/),
  }),
  stream({
    name: "stream-reset-mid-event",
    what: "a reset in the middle of a valid workspace.upsert (the half event must not apply)",
    answers: () => [
      {
        body: [
          `id: 500\nevent: workspace.upsert\ndata: ${JSON.stringify({ workspace: workspace("half") })}\n`,
        ],
        after: "destroy",
      },
    ],
    expect: retried(DISCONNECTED, /the stream broke off/),
  }),
  stream({
    name: "stream-stall-before-headers",
    what: "no status line for 20 s",
    answers: () => [{ delayMs: 20_000 }],
    expect: {
      log: { msg: DISCONNECTED, reason: /no byte and no keep-alive from the control plane for \d+ ms/ },
      windowMs: 17_000,
      min: 1,
      max: 2,
    },
  }),
  stream({
    name: "stream-stall-mid-event",
    what: "half an event, then silence without keep-alives",
    answers: () => [{ body: ["id: 501\nevent: workspace.upsert\ndata: {"], keepAliveMs: 0 }],
    expect: {
      log: { msg: DISCONNECTED, reason: /no byte and no keep-alive from the control plane for \d+ ms/ },
      windowMs: 17_000,
      min: 1,
      max: 2,
    },
  }),
  stream({
    name: "stream-slow-drip",
    what: "a comment dripped one byte every 500 ms and no keep-alives: slow, but alive",
    answers: () => [{ body: [{ drip: `:${"z".repeat(40)}`, everyMs: 500 }], keepAliveMs: 0 }],
    expect: { windowMs: 6000, min: 1, max: 1 },
  }),
  status({
    name: "status-500-storm",
    what: "500 to every status POST",
    answers: () => [{ status: 500, body: [errorBody("unavailable", "status store down")] }],
    expect: retried(STATUS_FAILED, /http 500 unavailable: status store down/),
  }),
  status({
    name: "status-huge-answer",
    what: "200 to the status POST with a 10 MiB body",
    answers: () => [{ status: 200, body: [{ repeat: "x".repeat(MiB), times: 10 }] }],
    expect: retried(STATUS_FAILED, /larger than the 64 KiB limit of a control-plane answer; refused unread/),
  }),
  status({
    name: "status-reset",
    what: "a TCP reset instead of an answer to the status POST",
    answers: () => [{ raw: [], after: "destroy" }],
    expect: retried(STATUS_FAILED, /no answer from http:\/\/127\.0\.0\.1:\d+/),
  }),
  status({
    name: "status-stall",
    what: "no answer to the status POST for 20 s",
    answers: () => [{ delayMs: 20_000 }],
    expect: {
      log: {
        msg: STATUS_FAILED,
        reason: /no answer from http:\/\/127\.0\.0\.1:\d+.*(aborted|timeout|Timeout)/,
      },
      windowMs: 12_000,
      min: 1,
      max: 2,
    },
  }),
  status({
    name: "status-413",
    what: "413 Payload Too Large",
    answers: () => [{ status: 413, body: ["too large"] }],
    expect: {
      log: { msg: STATUS_FAILED, reason: /http 413 without a protocol error body \(too large\)/ },
      windowMs: 2000,
      min: 1,
      max: 1,
    },
  }),
  status({
    name: "status-protocol-v0",
    what: "204 announcing protocol version 0",
    answers: () => [{ status: 204, headers: { "meridian-protocol-version": "0" } }],
    expect: {
      log: { msg: STATUS_FAILED, reason: /speaks protocol version 0/ },
      windowMs: 2000,
      min: 1,
      max: 1,
    },
  }),
  credentials({
    name: "credential-short-token",
    what: "a credential whose token is 3 characters",
    answers: () => [(req) => ({ body: [credential(req, { token: "abc" })] })],
    expect: retried(NO_CREDENTIAL, /answer does not match the protocol: token: /),
  }),
  credentials({
    name: "credential-header-injection",
    what: "a token holding CR LF and a second header",
    answers: () => [(req) => ({ body: [credential(req, { token: `${"t".repeat(20)}\r\nx-evil: 1` })] })],
    expect: retried(NO_CREDENTIAL, /answer does not match the protocol: token: /),
  }),
  credentials({
    name: "credential-other-workspace",
    what: "a credential for another workspace",
    answers: () => [(req) => ({ body: [credential(req, { workspaceId: "someone-else" })] })],
    expect: retried(NO_CREDENTIAL, /a credential for workspace "someone-else", not "[^"]+"/),
  }),
  credentials({
    name: "credential-bad-expiry",
    what: "a credential whose expiresAt is no time",
    answers: () => [(req) => ({ body: [credential(req, { expiresAt: "soon" })] })],
    expect: retried(NO_CREDENTIAL, /answer does not match the protocol: expiresAt: /),
  }),
  credentials({
    name: "credential-empty-200",
    what: "200 with no body",
    answers: () => [{ status: 200 }],
    expect: retried(NO_CREDENTIAL, /with no body/),
  }),
  credentials({
    name: "credential-not-json",
    what: "200 with an HTML page",
    answers: () => [{ headers: { "content-type": "text/html" }, body: ["<html>"] }],
    expect: retried(NO_CREDENTIAL, /answer is not JSON/),
  }),
  credentials({
    name: "credential-huge",
    what: "200 with a 10 MiB body",
    answers: () => [{ body: [{ repeat: "x".repeat(MiB), times: 10 }] }],
    expect: retried(NO_CREDENTIAL, /larger than the 64 KiB limit/),
  }),
  credentials({
    name: "credential-redirect",
    what: "302 to another host",
    answers: () => [{ status: 302, headers: { location: "http://evil.example/credentials" } }],
    expect: retried(
      NO_CREDENTIAL,
      /a redirect to "http:\/\/evil\.example\/credentials"; redirects are never followed/,
    ),
  }),
  credentials({
    name: "credential-503-storm",
    what: "503 to every credential request",
    answers: () => [{ status: 503, body: [errorBody("unavailable", "vault sealed")] }],
    expect: retried(NO_CREDENTIAL, /http 503 unavailable: vault sealed/),
  }),
];
