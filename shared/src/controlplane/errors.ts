// One place decides what a failed control-plane call means for the caller: try again soon,
// refresh the credential first, or stop hammering a server that will keep saying no.
import { type ErrorCode, errorBody } from "@meridian/shared/protocol/index";

/**
 * - `retry`: transient (network, timeout, 5xx, 404, 408, 429) — redial with the normal backoff.
 * - `refresh-credential`: 401 — refresh the TokenSource, then retry once quickly.
 * - `fatal-backoff-long`: cannot succeed without someone changing something (403, protocol version
 *   mismatch, a redirect, other 4xx) — report it and retry only with the long backoff, never in a
 *   hot loop.
 */
export type FailureKind = "retry" | "refresh-credential" | "fatal-backoff-long";
export interface Classification {
  kind: FailureKind;
  /** Short, log-friendly reason, e.g. `http 403 forbidden: workspace token for "a" used on "b"`. */
  reason: string;
}

/**
 * Every failure the client raises: an HTTP answer that was not what we wanted (`status` set, `code`
 * from the protocol error body when there was one), or a request that never got an answer
 * (`status` undefined, the network or timeout error as `cause`).
 */
export class ProtocolError extends Error {
  readonly status: number | undefined;
  readonly code: ErrorCode | undefined;
  /** The server's own message from the error body, if any. */
  readonly serverMessage: string | undefined;

  constructor(
    message: string,
    opts: { status?: number; code?: ErrorCode; serverMessage?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ProtocolError";
    this.status = opts.status;
    this.code = opts.code;
    this.serverMessage = opts.serverMessage;
  }
}

/**
 * `text` without `token` (as sent, or percent-encoded as in a URL): what a server writes back
 * becomes part of a reason, and a server that echoes the Authorization header must not put the
 * token into a log line.
 */
export function withoutToken(text: string, token: string | undefined): string {
  if (!token || token.length < 8) return text;
  return text.split(token).join("[REDACTED]").split(encodeURIComponent(token)).join("[REDACTED]");
}

/**
 * Builds the ProtocolError for a non-2xx answer from its status and raw body text. A body that is
 * not the protocol's `{error:{code,message}}` (a proxy's HTML page, say) keeps the status and a
 * short excerpt. `token`, the one the request carried, is cut out of whatever the body repeats.
 */
export function errorFromResponse(
  what: string,
  status: number,
  bodyText: string,
  token?: string,
): ProtocolError {
  bodyText = withoutToken(bodyText, token);
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    json = undefined;
  }
  const parsed = errorBody.safeParse(json);
  if (parsed.success) {
    const { code, message } = parsed.data.error;
    return new ProtocolError(`${what}: http ${status} ${code}: ${message}${hint(status, code)}`, {
      status,
      code,
      serverMessage: message,
    });
  }
  const excerpt = bodyText.replace(/\s+/g, " ").trim().slice(0, 120);
  return new ProtocolError(
    `${what}: http ${status} without a protocol error body${excerpt ? ` (${excerpt})` : ""}${hint(status)}`,
    { status },
  );
}

/**
 * A 3xx answer. Redirects are never followed (design principle 9): a control plane that moved is a
 * configuration change, and following one would hand the cluster to whoever answers at the new
 * address. The message names where it pointed (without `token`, should the Location carry the one
 * the request did) and which setting to change.
 */
export function redirectError(
  what: string,
  status: number,
  location: string | null | undefined,
  requestUrl: string,
  token?: string,
): ProtocolError {
  const to = location
    ? `to ${describeLocation(withoutToken(location, token), requestUrl)}`
    : "without a Location header";
  return new ProtocolError(
    `${what}: the control plane answered http ${status}, a redirect ${to}; redirects are never followed. ` +
      "If the control plane has moved, set the agent's control-plane URL (--control-plane-url, " +
      "MERIDIAN_CONTROL_PLANE_URL, Helm value controlPlane.url) to the new address",
    { status },
  );
}

/** The Location resolved against the request, without a password, printable, at most 300 characters. */
function describeLocation(location: string, requestUrl: string): string {
  let text = location;
  try {
    const u = new URL(location, requestUrl);
    if (u.password) u.password = "redacted";
    text = u.href;
  } catch {
    // not a URL: show it as it came
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return JSON.stringify(text.replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 300));
}

function hint(status: number, code?: ErrorCode): string {
  if (code === "protocol_version_unsupported")
    return " — this agent and the control plane speak different protocol versions; upgrade the agent";
  if (status === 401) return " — the token was refused; check the credential Secret";
  if (status === 403)
    return " — the token is valid but not for this resource; check the agent or workspace id";
  return "";
}

/** Walks the cause chain; the first ProtocolError or errno-style code decides. */
export function classify(err: unknown): Classification {
  const pe = findProtocolError(err);
  if (pe?.status !== undefined) return classifyStatus(pe.status, pe.code, pe.message);
  if (pe?.code === "protocol_version_unsupported") return { kind: "fatal-backoff-long", reason: pe.message };
  return { kind: "retry", reason: describeNetworkError(err) };
}

function classifyStatus(status: number, code: ErrorCode | undefined, message: string): Classification {
  if (code === "protocol_version_unsupported") return { kind: "fatal-backoff-long", reason: message };
  if (status === 401) return { kind: "refresh-credential", reason: message };
  if (status === 403) return { kind: "fatal-backoff-long", reason: message };
  if (status >= 300 && status < 400) return { kind: "fatal-backoff-long", reason: message };
  if (status >= 500 || status === 404 || status === 408 || status === 429)
    return { kind: "retry", reason: message };
  if (status >= 400) return { kind: "fatal-backoff-long", reason: message };
  // A 2xx that was still wrong (e.g. not an event stream): a proxy or a deploy in progress.
  return { kind: "retry", reason: message };
}

function findProtocolError(err: unknown): ProtocolError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof ProtocolError && (e.status !== undefined || e.code !== undefined)) return e;
  }
  return undefined;
}

/** Node's codes for a server certificate the client does not trust, or that does not fit the host. */
const UNTRUSTED_CERTIFICATE = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * `connect ECONNREFUSED 127.0.0.1:4000`, `TimeoutError: …` — the chain joined, most specific last;
 * a certificate the client does not trust gets what to do about it.
 */
export function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  let untrusted = false;
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      const text = e.message || e.name;
      if (typeof code === "string" && UNTRUSTED_CERTIFICATE.has(code)) untrusted = true;
      parts.push(typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  const text = parts.filter((p, i) => p && parts.indexOf(p) === i).join(": ") || "unknown error";
  return untrusted
    ? `${text} — the control plane's TLS certificate is not trusted: give the agent the CA that signed it (--ca-file, MERIDIAN_CA_FILE, Helm value customCA), or have the certificate name the host the agent dials`
    : text;
}
