// Signed desired state (docs/protocol.md "Signed events", docs/decisions.md 41): the control plane
// signs every stream event with Ed25519 over a canonical form; the agents verify it with the public
// keys the customer pinned. This module is the form itself, the same for signer and verifier:
// RFC 8785 canonical JSON (JCS), the key id, and signing and checking one event or snapshot item.
// Whether an event must be signed, and the replay rule, are the verifier's (controlplane/verify.ts).
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";

/** Version of the signed form; part of every signed text. */
export const SIGNED_FORM_VERSION = 1;

/** The members of an event's data that carry signatures; never part of what is signed. */
export const SIGNATURE_MEMBER = "signature";
export const ITEM_SIGNATURES_MEMBER = "signatures";

/** The named reasons a signature check refuses with (condition `SpecRejected`'s reason, the Event's). */
export type SignatureReason = "SignatureMissing" | "UnknownSigningKey" | "SignatureInvalid" | "ReplayedEvent";

/** A signature as it travels: the signing key's id and the Ed25519 signature, base64url without padding. */
export interface Signature {
  keyId: string;
  sig: string;
}

/**
 * RFC 8785 (JSON Canonicalization Scheme) for the JSON values the protocol carries: object members
 * sorted by their UTF-16 code units, no whitespace, strings and numbers as ECMAScript's
 * JSON.stringify writes them (which is what JCS specifies). Throws on what JSON cannot hold.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`canonical JSON cannot hold the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  throw new Error(`canonical JSON cannot hold a ${typeof value}`);
}

/** Where an event was sent and what it is: bound into every signature, so it cannot be moved. */
export interface EventAddress {
  /** The stream's path as `paths.agentStream`/`paths.workspaceStream` build it. */
  stream: string;
  /** The SSE event type. */
  type: string;
  /** The SSE event id. */
  id: string;
}

/** The text an event's `signature` covers (for a snapshot: its envelope, see `envelopeData`). */
export function signedText(at: EventAddress, data: unknown): string {
  return canonicalJson({ v: SIGNED_FORM_VERSION, stream: at.stream, type: at.type, id: at.id, data });
}

/** The text the signature of one snapshot item covers. */
export function signedItemText(at: EventAddress, item: unknown): string {
  return canonicalJson({ v: SIGNED_FORM_VERSION, stream: at.stream, type: at.type, id: at.id, item });
}

/** The snapshot list of an event's data: `workspaces` or `deployments`. */
export function snapshotListField(data: Record<string, unknown>): "workspaces" | "deployments" | undefined {
  if (Array.isArray(data.workspaces)) return "workspaces";
  if (Array.isArray(data.deployments)) return "deployments";
  return undefined;
}

/**
 * What a snapshot's envelope signature covers: its data without the signature members, each item of
 * its list replaced by its key (`id` of a workspace, `name` of a deployment; null when it has none
 * that is a string). Removing, adding, reordering or renaming an item breaks the envelope; changing
 * anything else of one item (its content or its own signature) breaks only that item.
 */
export function envelopeData(data: Record<string, unknown>): Record<string, unknown> {
  const out = withoutSignatures(data);
  const field = snapshotListField(data);
  if (field) {
    const keyField = field === "workspaces" ? "id" : "name";
    out[field] = (data[field] as unknown[]).map((item) => {
      const key =
        typeof item === "object" && item !== null ? (item as Record<string, unknown>)[keyField] : undefined;
      return typeof key === "string" ? key : null;
    });
  }
  return out;
}

/** The data without `signature` and `signatures`. */
export function withoutSignatures(data: Record<string, unknown>): Record<string, unknown> {
  const { [SIGNATURE_MEMBER]: _s, [ITEM_SIGNATURES_MEMBER]: _i, ...rest } = data;
  return rest;
}

/** The key id of an Ed25519 public key: the first 16 hex digits of SHA-256 over its 32 raw bytes. */
export function keyIdOf(key: KeyObject): string {
  return createHash("sha256").update(rawPublicKey(key)).digest("hex").slice(0, 16);
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== "ed25519") throw new Error(`not an Ed25519 key (${pub.asymmetricKeyType})`);
  const jwk = pub.export({ format: "jwk" }) as { x?: string };
  return Buffer.from(jwk.x ?? "", "base64url");
}

/**
 * An Ed25519 public key from text: PEM (`-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout`
 * writes it) or the base64 (or base64url) of its 32 raw bytes. Throws, saying which forms are read.
 */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  let key: KeyObject;
  try {
    if (t.startsWith("-----BEGIN")) key = createPublicKey(t);
    else {
      const raw = Buffer.from(t, t.includes("-") || t.includes("_") ? "base64url" : "base64");
      if (raw.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) throw new Error(`${raw.length} bytes`);
      key = createPublicKey({
        key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
        format: "jwk",
      });
    }
  } catch (cause) {
    throw new Error(
      `a signing public key must be an Ed25519 public key in PEM or the base64 of its 32 raw bytes (starts ${JSON.stringify(t.slice(0, 12))})`,
      { cause },
    );
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(`a signing public key must be Ed25519, not ${key.asymmetricKeyType}`);
  return key;
}

/** The base64 of a public key's 32 raw bytes: how the agent hands pinned keys on. */
export function publicKeyText(key: KeyObject): string {
  return rawPublicKey(key).toString("base64");
}

/** An Ed25519 private key from PEM (PKCS#8, as `openssl genpkey -algorithm ed25519` writes it) or a KeyObject. */
export function signingKey(key: KeyObject | string): KeyObject {
  const k = typeof key === "string" ? createPrivateKey(key) : key;
  if (k.type !== "private" || k.asymmetricKeyType !== "ed25519")
    throw new Error("the control plane's signing key must be an Ed25519 private key (PKCS#8 PEM)");
  return k;
}

/** Signs `text` with `key`. */
export function signText(key: KeyObject, text: string): Signature {
  return { keyId: keyIdOf(key), sig: sign(null, Buffer.from(text, "utf8"), key).toString("base64url") };
}

/**
 * True when `sig` is a signature of `text` by `key`; false for anything malformed, including an
 * encoding that is not the canonical base64url of 64 bytes (its unused last bits set).
 */
export function verifyText(key: KeyObject, text: string, sig: string): boolean {
  if (!/^[A-Za-z0-9_-]{86}$/.test(sig)) return false;
  const bytes = Buffer.from(sig, "base64url");
  if (bytes.toString("base64url") !== sig) return false;
  return verify(null, Buffer.from(text, "utf8"), key, bytes);
}

/**
 * Signs one event's data: returns the data with `signature` (and, for a snapshot, one entry of
 * `signatures` per item) added. What the control plane sends; `data` must be a JSON object.
 */
export function signEventData(
  key: KeyObject,
  at: EventAddress,
  data: Record<string, unknown>,
): Record<string, unknown> {
  const plain = withoutSignatures(data);
  const field = at.type === "snapshot" ? snapshotListField(plain) : undefined;
  if (!field) return { ...plain, [SIGNATURE_MEMBER]: signText(key, signedText(at, plain)) };
  const signatures = (plain[field] as unknown[]).map((item) => signText(key, signedItemText(at, item)));
  const envelope = signText(key, signedText(at, envelopeData(plain)));
  return { ...plain, [ITEM_SIGNATURES_MEMBER]: signatures, [SIGNATURE_MEMBER]: envelope };
}
