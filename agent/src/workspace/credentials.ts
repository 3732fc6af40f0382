// When the workspace credential Secret needs a new credential from the control plane. Pure: the
// reconcile reads the Secret from the cache and acts on the plan. The refresh point is a third of
// the lifetime before expiry (the protocol's rule); the issue time lives in an annotation so the
// plan is the same after an agent restart. Minting failures back off with full jitter.

import { type BackoffPolicy, backoffDelay } from "@meridian/shared/backoff";
import type { CredentialRequest } from "@meridian/shared/contract/credential-request";
import { refreshDueAt } from "@meridian/shared/controlplane/credentials";
import type { KubeObject } from "@meridian/shared/kube/resources";
import { ANNOTATION_CREDENTIAL_ISSUED_AT } from "./objects.ts";

export interface StoredCredential {
  token: string;
  expiresAt: string;
  workspaceId: string;
  issuedAt: string;
}

export type CredentialPlan =
  | { action: "keep"; credential: StoredCredential; refreshAtMs: number }
  | { action: "mint"; reason: string };

/** The credential a Secret holds, or undefined when any part is missing or unreadable. */
export function readCredentialSecret(secret: KubeObject | undefined): StoredCredential | undefined {
  const data = (secret?.data ?? {}) as Record<string, string>;
  const dec = (k: string) =>
    typeof data[k] === "string" ? Buffer.from(data[k], "base64").toString("utf8") : "";
  const token = dec("token");
  const expiresAt = dec("expiresAt");
  const workspaceId = dec("workspaceId");
  const issuedAt = secret?.metadata?.annotations?.[ANNOTATION_CREDENTIAL_ISSUED_AT] ?? "";
  if (
    !token ||
    !workspaceId ||
    !Number.isFinite(Date.parse(expiresAt)) ||
    !Number.isFinite(Date.parse(issuedAt))
  )
    return undefined;
  return { token, expiresAt, workspaceId, issuedAt };
}

/** A credential younger than this is kept even when the workspace agent says it was refused. */
export const MIN_REFUSED_CREDENTIAL_AGE_MS = 10_000;

/**
 * Keep the stored credential until a third of its lifetime remains, or until the workspace agent
 * reports it refused by the control plane (`request`, shared/src/contract/credential-request.ts);
 * otherwise mint a new one. A refused credential is replaced once it is 10 s old, so a control plane
 * that refuses every credential gets a new mint no more than every 10 s per workspace.
 */
export function planCredential(
  secret: KubeObject | undefined,
  workspaceId: string,
  nowMs: number,
  request?: CredentialRequest,
): CredentialPlan {
  if (!secret) return { action: "mint", reason: "no credential Secret yet" };
  const c = readCredentialSecret(secret);
  if (!c) return { action: "mint", reason: "the credential Secret is incomplete" };
  if (c.workspaceId !== workspaceId)
    return { action: "mint", reason: "the credential Secret is for another workspace" };
  const refreshAtMs = refreshDueAt(
    { workspaceId: c.workspaceId, token: c.token, expiresAt: c.expiresAt },
    Date.parse(c.issuedAt),
  );
  if (nowMs >= refreshAtMs)
    return { action: "mint", reason: "less than a third of the credential's lifetime remains" };
  if (request?.refusedExpiresAt === c.expiresAt) {
    const replaceAtMs = Date.parse(c.issuedAt) + MIN_REFUSED_CREDENTIAL_AGE_MS;
    if (nowMs >= replaceAtMs)
      return {
        action: "mint",
        reason: "the workspace agent reports the credential refused by the control plane",
      };
    return { action: "keep", credential: c, refreshAtMs: Math.min(refreshAtMs, replaceAtMs) };
  }
  return { action: "keep", credential: c, refreshAtMs };
}

/** Failed mints: full jitter from 1 s doubling to 60 s, at least 200 ms. */
export const CREDENTIAL_RETRY_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 60_000, floorMs: 200 };

/** Delay before retrying a failed mint (the `attempt`-th failure, 0-based). */
export function credentialRetryDelay(attempt: number, random: () => number = Math.random): number {
  return backoffDelay(attempt, CREDENTIAL_RETRY_BACKOFF, random);
}
