// Where a workspace's Flink state may live: a workspace's `storage.baseURI` (checked by the protocol
// for its form and by the agent against the local policy's `storage.allowedURIs`) and the checkpoint
// and savepoint directories a deployment narrows it to (checked by the workspace agent: at or under
// `<base>/<deployment>`, never beside it). Object stores only (`s3`, `s3a`, `abfss`, `wasbs`);
// `file://` only under a `file://` entry of the policy, which a cluster whose pods share a volume (the
// test cluster) may list. The same parser as job jar locations (jar-uris.ts): no credentials, query,
// `.`/`..` segments, loopback or metadata hosts. Reasons name the location as `scheme://authority`.
import { type JarLocation, type LocationRules, type Parsed, parseLocation, under } from "./jar-uris.ts";

/** Object-store schemes a workspace may name without a policy entry. */
export const CLOUD_STORAGE_SCHEMES = ["s3", "s3a", "abfss", "wasbs"] as const;
export const STORAGE_SCHEMES = [...CLOUD_STORAGE_SCHEMES, "file"] as const;

const RULES: LocationRules = {
  schemes: STORAGE_SCHEMES,
  pathSchemes: ["file"],
  schemeHint: `use one of ${CLOUD_STORAGE_SCHEMES.join(", ")} (file:// only where the local policy lists it)`,
  noSchemeHint: "use an object storage URI such as s3://bucket/flink",
};

export type StorageCheck = { allowed: true } | { allowed: false; reason: string };

/** Splits and checks a storage URI; `what` names it in reasons (`storage.baseURI`). */
export function parseStorageUri(uri: string, what = "storage.baseURI"): Parsed {
  return parseLocation(uri, what, RULES);
}

/** `scheme://authority`: how reasons name a location. */
export function whereOf(loc: JarLocation): string {
  return `${loc.scheme}://${loc.authority}`;
}

/** The location as Flink is given it: lowercase scheme and authority, no trailing slash. */
export function canonicalStorageUri(loc: JarLocation): string {
  return `${loc.scheme}://${loc.authority}${loc.path}`;
}

/** Why a storage URI cannot be used whatever the policy says, or undefined. */
export function storageUriProblem(uri: string, what = "storage.baseURI"): string | undefined {
  const parsed = parseStorageUri(uri, what);
  return parsed.ok ? undefined : parsed.reason;
}

/** Why a policy entry of `storage.allowedURIs` is unusable, or undefined. */
export function storageEntryProblem(entry: string): string | undefined {
  if (entry.includes(",")) return "storage.allowedURIs entry must not contain a comma";
  return storageUriProblem(entry, "storage.allowedURIs entry");
}

/**
 * Whether a workspace may keep its state at `uri` under the policy's `storage.allowedURIs`: under an
 * entry, or (no entries) anywhere on an object store. `file://` only ever under an entry.
 */
export function checkStorageUri(
  uri: string,
  allowed: readonly string[],
  what = "storage.baseURI",
): StorageCheck {
  const parsed = parseStorageUri(uri, what);
  if (!parsed.ok) return { allowed: false, reason: parsed.reason };
  const loc = parsed.location;
  for (const e of allowed) {
    const entry = parseStorageUri(e, "storage.allowedURIs entry");
    if (entry.ok && under(loc, entry.location)) return { allowed: true };
  }
  if (allowed.length === 0 && loc.scheme !== "file") return { allowed: true };
  const policy =
    allowed.length === 0
      ? "the local policy lists no storage.allowedURIs"
      : `storage.allowedURIs: ${allowed.join(", ")}`;
  const why =
    loc.scheme === "file"
      ? "file:// is pod-local storage, allowed only under a file:// entry of the local policy"
      : "it is not under an allowed storage location";
  return {
    allowed: false,
    reason: `${what} on ${whereOf(loc)}${loc.path} is refused: ${why} (${policy}); use a location the cluster admin allows, or ask them to extend storage.allowedURIs in the local policy`,
  };
}

/**
 * Whether `uri` lies at or under `base` (a `/` boundary, same scheme and authority): how a
 * deployment's own checkpoint or savepoint directory is kept inside its default one.
 */
export function isWithin(uri: string, base: string): boolean {
  const u = parseStorageUri(uri);
  const b = parseStorageUri(base);
  return u.ok && b.ok && under(u.location, b.location);
}

/** The Flink file-system plugin family a scheme needs: `s3` (s3, s3a), `azure` (abfss, wasbs), none. */
export function fileSystemOf(scheme: string): "s3" | "azure" | undefined {
  if (scheme === "s3" || scheme === "s3a") return "s3";
  if (scheme === "abfss" || scheme === "wasbs") return "azure";
  return undefined;
}
