// The reference control plane's signing (docs/protocol.md "Signed events"): every event it writes to
// a stream is signed at the moment it is written (a snapshot, a replay, a live change or an injected
// test event), with the key it was given. Tests, the demo and the cluster harness pin the public key
// of the fixed test key below unless they give their own.
import { createPrivateKey, type KeyObject } from "node:crypto";
import { paths } from "@meridian/shared/protocol/index";
import { publicKeyText, signEventData, signingKey } from "@meridian/shared/protocol/signing";
import type { StreamKind } from "./change-log.ts";

/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** A test Ed25519 key from one seed byte: the same key in every process (never for production). */
export function testSigningKey(seed = 1): KeyObject {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, seed)]);
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
}

/** The key the reference control plane signs with unless given another. */
export const TEST_SIGNING_KEY = testSigningKey(1);

/** Its public key as agents pin it (`--signing-public-keys`, Helm `controlPlane.signingPublicKeys`). */
export const TEST_SIGNING_PUBLIC_KEY = publicKeyText(TEST_SIGNING_KEY);

/** The key a control plane signs with now; changed at run time for rotation tests. Null: unsigned. */
export class Signer {
  #key: KeyObject | null;

  constructor(key: KeyObject | string | null | undefined) {
    this.#key = key === undefined ? TEST_SIGNING_KEY : key === null ? null : signingKey(key);
  }

  use(key: KeyObject | string | null): void {
    this.#key = key === null ? null : signingKey(key);
  }

  get publicKey(): string | undefined {
    return this.#key ? publicKeyText(this.#key) : undefined;
  }

  /** The event's data, signed for its stream; data that is not a JSON object is left as it is. */
  sign(stream: StreamKind, target: string, type: string, id: string, data: string): string {
    if (!this.#key) return data;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return data;
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) return data;
    const path = stream === "agent" ? paths.agentStream(target) : paths.workspaceStream(target);
    return JSON.stringify(
      signEventData(this.#key, { stream: path, type, id }, json as Record<string, unknown>),
    );
  }
}
