// Bearer tokens of the reference control plane: random, prefixed by kind, stored only as a SHA-256
// hash so that the database never holds a usable secret.
import { createHash, randomBytes } from "node:crypto";

export type TokenKind = "agent" | "workspace";

const PREFIX: Record<TokenKind, string> = { agent: "mra_", workspace: "mrw_" };

/** A new random token (32 bytes of entropy, base64url) with a prefix that says what it opens. */
export function mintToken(kind: TokenKind): string {
  return PREFIX[kind] + randomBytes(32).toString("base64url");
}

/** The hex SHA-256 of a token: the only form in which a token is stored or compared. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}
