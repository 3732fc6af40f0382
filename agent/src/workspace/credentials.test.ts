import assert from "node:assert/strict";
import { test } from "node:test";
import { credentialRetryDelay, planCredential, readCredentialSecret } from "./credentials.ts";
import { buildCredentialSecret } from "./objects.ts";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const secret = (issuedMs: number, lifetimeMs: number, workspaceId = "a") =>
  buildCredentialSecret(
    workspaceId,
    "mw-a",
    { workspaceId, token: "x".repeat(32), expiresAt: new Date(issuedMs + lifetimeMs).toISOString() },
    new Date(issuedMs).toISOString(),
  );

test("a fresh credential is kept until a third of its lifetime remains", () => {
  const s = secret(T0, 900_000);
  const early = planCredential(s, "a", T0 + 1000);
  assert.equal(early.action, "keep");
  assert.equal(early.action === "keep" && early.refreshAtMs, T0 + 600_000);
  assert.equal(planCredential(s, "a", T0 + 599_999).action, "keep");
  const due = planCredential(s, "a", T0 + 600_000);
  assert.deepEqual(due, { action: "mint", reason: "less than a third of the credential's lifetime remains" });
});

test("missing, incomplete or foreign Secrets need a new credential", () => {
  assert.equal(planCredential(undefined, "a", T0).action, "mint");
  const s = secret(T0, 900_000);
  assert.equal(planCredential({ ...s, data: { token: "eA==" } }, "a", T0).action, "mint");
  assert.equal(planCredential(secret(T0, 900_000, "b"), "a", T0).action, "mint");
  const noIssued = { ...s, metadata: { ...s.metadata, annotations: {} } };
  assert.equal(readCredentialSecret(noIssued), undefined);
});

test("mint retries back off exponentially with full jitter, capped at a minute, never below 200 ms", () => {
  assert.equal(
    credentialRetryDelay(0, () => 0),
    200,
  );
  assert.equal(
    credentialRetryDelay(0, () => 0.999),
    999,
  );
  assert.equal(
    credentialRetryDelay(3, () => 0.5),
    4000,
  );
  assert.equal(
    credentialRetryDelay(20, () => 1),
    60_000,
  );
  const delays = Array.from({ length: 50 }, (_, i) => credentialRetryDelay(i));
  assert.ok(delays.every((d) => d >= 200 && d <= 60_000));
});

test("a credential the workspace agent reports refused is replaced once it is 10 s old; another's report is ignored", () => {
  const s = secret(T0, 900_000);
  const expiresAt = new Date(T0 + 900_000).toISOString();
  const refused = { refusedExpiresAt: expiresAt, refusedAt: new Date(T0 + 2000).toISOString() };
  const young = planCredential(s, "a", T0 + 2000, refused);
  assert.equal(young.action, "keep");
  assert.equal(
    young.action === "keep" && young.refreshAtMs,
    T0 + 10_000,
    "looked at again when it may be replaced",
  );
  assert.deepEqual(planCredential(s, "a", T0 + 10_000, refused), {
    action: "mint",
    reason: "the workspace agent reports the credential refused by the control plane",
  });
  // A request naming a credential already replaced (another expiry) changes nothing.
  const stale = { ...refused, refusedExpiresAt: new Date(T0 + 1).toISOString() };
  assert.equal(planCredential(s, "a", T0 + 60_000, stale).action, "keep");
});
