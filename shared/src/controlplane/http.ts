// The HTTP layer every control-plane call goes through: one undici Dispatcher (custom CA, proxy
// from the environment, connect timeout, no body timeout so idle streams live), the protocol and
// auth headers, and `requestJson()` for the short POSTs with a per-request deadline.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import {
  describeIssues,
  formatBytes,
  MAX_RESPONSE_BYTES,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
} from "@meridian/shared/protocol/index";
import { type Dispatcher, EnvHttpProxyAgent, request } from "undici";
import type { z } from "zod";
import { errorFromResponse, ProtocolError, redirectError } from "./errors.ts";
import type { TokenSource } from "./token-source.ts";

export interface ProxySettings {
  /** Proxy for `https://` control planes (HTTPS_PROXY). */
  httpsProxy?: string;
  /** Proxy for `http://` control planes (HTTP_PROXY); also used for https when httpsProxy is unset. */
  httpProxy?: string;
  /** Comma-separated hosts that bypass the proxy (NO_PROXY), e.g. `localhost,.svc,10.0.0.0/8`. */
  noProxy?: string;
}

/** Reads the conventional proxy variables (upper or lower case) from an environment. */
export function proxySettingsFromEnv(env: Record<string, string | undefined>): ProxySettings {
  const pick = (name: string) => env[name] ?? env[name.toLowerCase()] ?? undefined;
  const s: ProxySettings = {};
  const https = pick("HTTPS_PROXY");
  const http = pick("HTTP_PROXY");
  const no = pick("NO_PROXY");
  if (https) s.httpsProxy = https;
  if (http) s.httpProxy = http;
  if (no) s.noProxy = no;
  return s;
}

export interface DispatcherOptions {
  /** PEM file of an extra CA to trust (added to Node's bundled roots). */
  caFile?: string;
  /** PEM text of an extra CA to trust; wins over caFile. */
  caPem?: string;
  /** Proxy settings; default: `proxySettingsFromEnv(process.env)`, read once here. */
  proxy?: ProxySettings;
  /** TCP + TLS connect deadline. Default 10 s. */
  connectTimeoutMs?: number;
  /** Deadline for the response headers. Default 30 s. */
  headersTimeoutMs?: number;
}

/**
 * The one Dispatcher of a process's control-plane client. `bodyTimeout` is 0: an SSE stream is
 * legitimately idle between keep-alives, and the stream's own watchdog detects silence; POSTs carry
 * their own deadline (`requestJson`'s `timeoutMs`). NO_PROXY is honoured by EnvHttpProxyAgent.
 */
export function createDispatcher(opts: DispatcherOptions = {}): Dispatcher {
  const proxy = opts.proxy ?? proxySettingsFromEnv(process.env);
  const ca = extraCa(opts);
  const tls = ca ? { ca: [...rootCertificates, ca] } : {};
  return new EnvHttpProxyAgent({
    // Empty strings, not undefined: undefined would make undici read process.env itself.
    httpProxy: proxy.httpProxy ?? "",
    httpsProxy: proxy.httpsProxy ?? proxy.httpProxy ?? "",
    noProxy: proxy.noProxy ?? "",
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    headersTimeout: opts.headersTimeoutMs ?? 30_000,
    bodyTimeout: 0,
    connect: tls,
    requestTls: tls,
  });
}

function extraCa(opts: DispatcherOptions): string | undefined {
  if (opts.caPem) return opts.caPem;
  if (!opts.caFile) return undefined;
  try {
    return readFileSync(opts.caFile, "utf8");
  } catch (cause) {
    throw new Error(
      `cannot read the control plane CA file ${opts.caFile}; mount the CA bundle there or unset caFile`,
      { cause },
    );
  }
}

/** Where and as whom a client talks to the control plane. Shared by streams, reporters, credentials. */
export interface Endpoint {
  /** e.g. `https://cp.example.com` (a path prefix is kept: `https://host/api` + `/v1/...`). */
  baseUrl: string;
  dispatcher: Dispatcher;
  tokens: TokenSource;
}

export function endpointUrl(endpoint: Pick<Endpoint, "baseUrl">, path: string): string {
  return endpoint.baseUrl.replace(/\/+$/, "") + path;
}

/** Headers of every protocol request. */
export function protocolHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, [PROTOCOL_HEADER]: PROTOCOL_VERSION };
}

/** A response announcing a protocol version other than ours is refused, whatever its status. */
export function checkProtocolVersion(
  what: string,
  status: number,
  announced: string | string[] | null | undefined,
): ProtocolError | undefined {
  const v = Array.isArray(announced) ? announced[0] : announced;
  if (v === undefined || v === null || v === PROTOCOL_VERSION) return undefined;
  return new ProtocolError(
    `${what}: the control plane speaks protocol version ${v}, this agent speaks ${PROTOCOL_VERSION}; upgrade the agent`,
    { status, code: "protocol_version_unsupported" },
  );
}

export interface RequestJsonOptions<T> {
  path: string;
  method?: "POST" | "GET" | "PUT";
  body?: unknown;
  /** Deadline for the whole exchange. Default 10 s. */
  timeoutMs?: number;
  /** Validates a 2xx JSON answer; without it the parsed JSON is returned unchecked. */
  schema?: z.ZodType<T>;
}

/**
 * Reads a body up to `max` bytes and stops there: what lies beyond is never buffered (the stream is
 * cancelled). `truncated` says there was more.
 */
export async function readLimited(
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | null | undefined,
  max = MAX_RESPONSE_BYTES,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body ?? []) {
    const room = max - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(chunk.length, room);
    if (chunk.length > room) {
      truncated = true;
      break;
    }
  }
  return { text: Buffer.concat(chunks).toString("utf8"), truncated };
}

/**
 * One JSON request. Resolves with the validated body (undefined for 204). Rejects with a
 * ProtocolError: with `status` for an unwanted answer, without for no answer (network, timeout) —
 * hand it to `classify()`. A 401 refreshes the TokenSource and retries once; a second 401 rejects.
 * A redirect is never followed (`redirectError`); an answer over MAX_RESPONSE_BYTES is refused.
 */
export async function requestJson<T = unknown>(
  endpoint: Endpoint,
  opts: RequestJsonOptions<T>,
): Promise<T | undefined> {
  const sent: { token?: string } = {};
  try {
    return await requestOnce(endpoint, opts, sent);
  } catch (err) {
    if (!(err instanceof ProtocolError) || err.status !== 401 || !endpoint.tokens.refresh) throw err;
    await refreshTokens(endpoint.tokens, err, sent.token);
    return await requestOnce(endpoint, opts);
  }
}

async function refreshTokens(tokens: TokenSource, after: ProtocolError, refused?: string): Promise<void> {
  try {
    await tokens.refresh?.(refused);
  } catch (cause) {
    throw new ProtocolError(`${after.message}; refreshing the credential failed too`, {
      ...(after.status === undefined ? {} : { status: after.status }),
      ...(after.code === undefined ? {} : { code: after.code }),
      cause,
    });
  }
}

/** `sent.token` is set to the token the request carries (for a refresh after its 401). */
async function requestOnce<T>(
  endpoint: Endpoint,
  opts: RequestJsonOptions<T>,
  sent: { token?: string } = {},
): Promise<T | undefined> {
  const method = opts.method ?? "POST";
  const what = `${method} ${opts.path}`;
  let token: string;
  try {
    token = await endpoint.tokens.token();
  } catch (cause) {
    throw new ProtocolError(`${what}: no credential to send`, { cause });
  }
  sent.token = token;
  const headers: Record<string, string> = { ...protocolHeaders(token), accept: "application/json" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const url = endpointUrl(endpoint, opts.path);
  let res: Dispatcher.ResponseData;
  let body: { text: string; truncated: boolean };
  try {
    // undici's request() never follows redirects (that takes a redirect interceptor).
    res = await request(url, {
      method,
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      dispatcher: endpoint.dispatcher,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    body = await readLimited(res.body);
  } catch (cause) {
    throw new ProtocolError(`${what}: no answer from ${endpoint.baseUrl}`, { cause });
  }
  const versionError = checkProtocolVersion(what, res.statusCode, res.headers[PROTOCOL_HEADER]);
  if (versionError) throw versionError;
  const location = res.headers.location;
  if (res.statusCode >= 300 && res.statusCode < 400)
    throw redirectError(what, res.statusCode, Array.isArray(location) ? location[0] : location, url, token);
  if (res.statusCode < 200 || res.statusCode >= 300)
    throw errorFromResponse(what, res.statusCode, body.text, token);
  if (body.truncated)
    throw new ProtocolError(
      `${what}: the answer is larger than the ${formatBytes(MAX_RESPONSE_BYTES)} limit of a control-plane answer; refused unread`,
      { status: res.statusCode },
    );
  const text = body.text;
  if (res.statusCode === 204 || text === "") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError(`${what}: answer is not JSON`, { status: res.statusCode, cause });
  }
  if (!opts.schema) return json as T;
  const parsed = opts.schema.safeParse(json);
  if (!parsed.success)
    throw new ProtocolError(`${what}: answer does not match the protocol: ${describeIssues(parsed.error)}`, {
      status: res.statusCode,
    });
  return parsed.data;
}
