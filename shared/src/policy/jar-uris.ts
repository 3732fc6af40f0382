// Where a Flink job's jar may come from (a deployment's `job.jarURI`). Nothing fetches a jar from
// outside the image today; this keeps it that way unless the customer's local policy says otherwise:
// `local://` paths inside the image are always allowed, an object-store or https location only when
// it lies under an entry of the policy's `allowedJarURIs`, and some things never (other schemes,
// credentials or queries in the URI, loopback, link-local and cloud metadata hosts). One
// implementation for the agent (validating its policy file) and the workspace agent (validating its
// environment and every deployment). Reasons never repeat a whole URI: it may hold a secret.
import { BlockList, isIP } from "node:net";

/** Schemes a policy entry may allow, besides `local` (always allowed, never an entry). */
export const REMOTE_JAR_SCHEMES = ["s3", "s3a", "gs", "abfss", "wasbs", "https"] as const;
const AZURE_SCHEMES = new Set(["abfss", "wasbs"]);

/** A jar location split into the parts policy entries match on. */
export interface JarLocation {
  /** Lowercase, without the colon. */
  scheme: string;
  /** Lowercase; for abfss/wasbs `container@account-host`; for https perhaps with a port. */
  authority: string;
  /** The host alone (what the never-allowed hosts are checked against). */
  host: string;
  /** As given, without a trailing slash; "" for the root. */
  path: string;
}

export type Parsed = { ok: true; location: JarLocation } | { ok: false; reason: string };
export type JarUriCheck = { allowed: true } | { allowed: false; reason: string };

/** Addresses that reach the node, the pod itself or a cloud's instance metadata (credentials). */
const NEVER_ADDRESSES = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local: AWS, GCP, Azure, OpenStack metadata at 169.254.169.254
  ["100.100.100.200", 32], // Alibaba Cloud metadata
  ["168.63.129.16", 32], // Azure host (wire server)
] as const)
  NEVER_ADDRESSES.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["fe80::", 10],
  ["fd00:ec2::254", 128], // AWS instance metadata over IPv6
] as const)
  NEVER_ADDRESSES.addSubnet(net, bits, "ipv6");

/** Host names of instance metadata services and of the machine itself. */
const NEVER_HOSTS = new Set([
  "localhost",
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;
const AZURE_CONTAINER = /^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$/;
const LOCAL_FORM =
  "local:// takes an absolute path inside the image and no host: local:///opt/flink/usrlib/job.jar";
/** RFC 3986 characters; anything else (spaces, controls, `\`, `<`, non-ASCII) is refused. */
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

/**
 * The schemes a kind of location may have and how its refusals read: jar URIs (`local` plus
 * REMOTE_JAR_SCHEMES) here, storage URIs in storage-uris.ts.
 */
export interface LocationRules {
  /** Schemes accepted at all (lowercase). */
  schemes: readonly string[];
  /** Schemes naming a path on the machine: `<scheme>:///<absolute path>`, no host. */
  pathSchemes: readonly string[];
  /** Said after a refused scheme: what to use instead. */
  schemeHint: string;
  /** Said when there is no scheme at all. */
  noSchemeHint: string;
}

const JAR_RULES: LocationRules = {
  schemes: ["local", ...REMOTE_JAR_SCHEMES],
  pathSchemes: ["local"],
  schemeHint: `use local:// (a path inside the image) or, where the local policy allows it, one of ${REMOTE_JAR_SCHEMES.join(", ")}`,
  noSchemeHint: "use a path inside the image such as local:///opt/flink/usrlib/job.jar",
};

/**
 * Splits and checks a jar URI (or a policy entry) against the rules that hold whatever the policy
 * says. `what` names it in reasons (`jarURI`, `allowedJarURIs entry`).
 */
export function parseJarLocation(uri: string, what = "jarURI"): Parsed {
  return parseLocation(uri, what, JAR_RULES);
}

/**
 * Splits and checks a location URI under `rules`, with the checks that hold for every kind: ASCII
 * only, no query, fragment, credentials, `.`/`..` segments or loopback/metadata hosts.
 */
export function parseLocation(uri: string, what: string, rules: LocationRules): Parsed {
  const fail = (reason: string): Parsed => ({ ok: false, reason: `${what} ${reason}` });
  if (!URI_CHARS.test(uri))
    return fail("must be a URI of ASCII characters without spaces, control characters or backslashes");
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/.exec(uri);
  if (!m) return fail(`has no scheme; ${rules.noSchemeHint}`);
  const scheme = (m[1] ?? "").toLowerCase();
  const rest = m[2] ?? "";
  if (!rules.schemes.includes(scheme))
    return fail(`has scheme "${scheme}:", which is not allowed; ${rules.schemeHint}`);
  if (/[?#]/.test(rest))
    return fail(
      "must not carry a query or a fragment (a presigned URL's signature is a credential: give the Flink pods read access instead)",
    );
  const isPath = rules.pathSchemes.includes(scheme);
  const pathForm = `${scheme}:// takes an absolute path and no host: ${scheme}:///<path>`;
  const form = scheme === "local" ? LOCAL_FORM : pathForm;
  const parts = /^\/\/([^/]*)(\/.*)?$/.exec(rest);
  if (!parts) return fail(isPath ? form : `must be ${scheme}://<location>/<path>`);
  const authority = (parts[1] ?? "").toLowerCase();
  const path = parts[2] ?? "";
  const pathProblem = checkPath(path);
  if (pathProblem) return fail(pathProblem);
  if (isPath) {
    if (authority !== "" || path === "") return fail(form);
    if (/^\/(proc|sys|dev)(\/|$)/.test(path))
      return fail("points into /proc, /sys or /dev, which are not part of the image");
    return { ok: true, location: { scheme, authority: "", host: "", path: trimSlash(path) } };
  }
  const host = hostOf(scheme, authority);
  if (!host.ok) return fail(host.reason);
  const never = neverAllowed(host.host);
  if (never) return fail(never);
  return { ok: true, location: { scheme, authority, host: host.host, path: trimSlash(path) } };
}

function trimSlash(path: string): string {
  return path.replace(/\/+$/, "");
}

/** No `.`/`..` or empty segments, no `/`, `\` or control characters hidden in percent-encoding. */
function checkPath(path: string): string | undefined {
  const segments = path.split("/").slice(1);
  for (const [i, raw] of segments.entries()) {
    if (raw === "" && i < segments.length - 1) return "must not have empty path segments (//)";
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return "has a malformed percent-encoding in its path";
    }
    if (seg === "." || seg === "..") return "must not have '.' or '..' path segments";
    if (/[/\\]|[^\x20-\x7E\u0080-\uFFFF]/.test(seg))
      return "must not hide '/', '\\' or control characters in percent-encoding";
  }
  return undefined;
}

function hostOf(
  scheme: string,
  authority: string,
): { ok: true; host: string } | { ok: false; reason: string } {
  let hostPort = authority;
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const container = authority.slice(0, at);
    if (!AZURE_SCHEMES.has(scheme) || !AZURE_CONTAINER.test(container))
      return {
        ok: false,
        reason: "must not carry user information (user@ or user:password@): credentials never go into a spec",
      };
    hostPort = authority.slice(at + 1);
  }
  let host = hostPort;
  const port = /^(.*):(\d{1,5})$/.exec(hostPort);
  if (port && !hostPort.endsWith("]")) {
    if (scheme !== "https") return { ok: false, reason: `must not name a port for ${scheme}:` };
    host = port[1] ?? "";
  }
  if (host === "") return { ok: false, reason: "has no host" };
  if (host.startsWith("[")) {
    const v6 = /^\[([0-9a-f:.]+)\]$/.exec(host)?.[1];
    if (!v6 || isIP(v6) !== 6) return { ok: false, reason: "has an invalid IPv6 address" };
    return { ok: true, host: v6 };
  }
  host = host.replace(/\.$/, "");
  if (/^((0x[0-9a-f]*|\d+)\.?)+$/.test(host)) {
    // Every label a number: an IPv4 address in any of the forms a resolver accepts (2852039166,
    // 0xa9.0xfe.0xa9.0xfe, 169.254.43518), canonicalised the way URL parsers do it.
    try {
      return { ok: true, host: new URL(`https://${host}/`).hostname };
    } catch {
      return { ok: false, reason: "has an invalid IPv4 address" };
    }
  }
  if (!HOST_NAME.test(host) || host.length > 253) return { ok: false, reason: "has an invalid host name" };
  return { ok: true, host };
}

/** Why `host` (canonical) is never allowed, or undefined. */
function neverAllowed(host: string): string | undefined {
  const family = isIP(host);
  const blocked =
    family === 4
      ? NEVER_ADDRESSES.check(host, "ipv4")
      : family === 6
        ? NEVER_ADDRESSES.check(host, "ipv6")
        : NEVER_HOSTS.has(host) || host.endsWith(".localhost");
  if (!blocked) return undefined;
  return `points at ${host}, a loopback, link-local or cloud metadata address; such a host is never allowed`;
}

/** True when `loc` lies at or under `entry` (same scheme and authority, path at a `/` boundary). */
export function under(loc: JarLocation, entry: JarLocation): boolean {
  if (loc.scheme !== entry.scheme || loc.authority !== entry.authority) return false;
  return entry.path === "" || loc.path === entry.path || loc.path.startsWith(`${entry.path}/`);
}

/**
 * Whether a deployment's jarURI may be used under the policy's `allowedJarURIs` (entries as
 * validated by parseJarLocation(entry, "allowedJarURIs entry"); an invalid one matches nothing).
 */
export function checkJarUri(uri: string, allowed: readonly string[]): JarUriCheck {
  const parsed = parseJarLocation(uri);
  if (!parsed.ok) return { allowed: false, reason: parsed.reason };
  const loc = parsed.location;
  if (loc.scheme === "local") return { allowed: true };
  for (const e of allowed) {
    const entry = parseJarLocation(e, "allowedJarURIs entry");
    if (entry.ok && under(loc, entry.location)) return { allowed: true };
  }
  const where = `${loc.scheme}://${loc.authority}`;
  const policy =
    allowed.length === 0
      ? "the local policy allows only local:// paths inside the image"
      : `allowedJarURIs: ${allowed.join(", ")}`;
  return {
    allowed: false,
    reason: `jarURI on ${where} is not under an allowed jar location (${policy}); use a path inside the image (local:///opt/flink/usrlib/job.jar) or ask the cluster admin to extend allowedJarURIs in the local policy`,
  };
}

/** Why a policy entry is unusable, or undefined. Entries name a remote location; local:// needs none. */
export function jarUriEntryProblem(entry: string): string | undefined {
  if (entry.includes(",")) return "allowedJarURIs entry must not contain a comma";
  const parsed = parseJarLocation(entry, "allowedJarURIs entry");
  if (!parsed.ok) return parsed.reason;
  if (parsed.location.scheme === "local")
    return "allowedJarURIs entry names local://, which is always allowed; list only remote locations";
  return undefined;
}
