// Agent credentials that expire (docs/protocol.md#authentication): the vendor issues a one-time install
// token valid for minutes (admin API); the agent exchanges it on first connect for a short-lived
// credential (the install token is used up by that) and renews the credential with itself before it
// expires. Revoking an agent deletes everything it and its workspaces could authenticate with and ends
// their streams, so it is cut off at its next request and never later than one credential lifetime.
// Short-lived agent credentials live in the store's `credentials` table (kind `agent`, with an expiry),
// beside the deprecated long-lived tokens (kind `agent`, no expiry); install tokens and each agent's
// credential lifetime in two tables of their own.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DatabaseSync } from "node:sqlite";
import { F } from "@meridian/shared/log";
import { type AgentCredential, describeIssues, dnsLabel } from "@meridian/shared/protocol/index";
import { z } from "zod";
import type { ServerContext } from "./context.ts";
import { inTransaction } from "./db.ts";
import { forbidden, invalid, notFound, readJsonObject, sendJson, unauthorized } from "./http-io.ts";
import { bearerToken, hashToken, mintToken } from "./tokens.ts";

/** Default lifetime of an install token: minutes, enough for a `helm install`. */
export const INSTALL_TOKEN_TTL_SECONDS = 600;
/** Default lifetime of an agent credential: the bound on how long a copied credential serves. */
export const AGENT_CREDENTIAL_TTL_SECONDS = 3600;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS install_tokens (
  token_hash TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS install_tokens_agent ON install_tokens (agent_id);
CREATE TABLE IF NOT EXISTS agent_credential_ttl (
  agent_id TEXT PRIMARY KEY,
  seconds INTEGER NOT NULL
);
`;
const ready = new WeakSet<DatabaseSync>();

function db(ctx: ServerContext): DatabaseSync {
  const d = ctx.store.db;
  if (!ready.has(d)) {
    d.exec(SCHEMA);
    ready.add(d);
  }
  return d;
}

export const installTokenRequest = z
  .object({
    ttlSeconds: z.number().int().min(1).max(86_400).optional(),
    credentialTtlSeconds: z.number().int().min(10).max(86_400).optional(),
  })
  .strict();

export interface InstallToken {
  agentId: string;
  installToken: string;
  expiresAt: string;
  credentialTtlSeconds: number;
}

/**
 * A new one-time install token for `agentId` (created if new); unused earlier ones stop working. The
 * agent's credentials stay valid: issuing an install token is not a revocation.
 */
export function issueInstallToken(
  ctx: ServerContext,
  agentId: string,
  opts: z.infer<typeof installTokenRequest>,
): InstallToken {
  const d = db(ctx);
  const token = mintToken("agent");
  const expiresAt = Date.now() + (opts.ttlSeconds ?? INSTALL_TOKEN_TTL_SECONDS) * 1000;
  const credentialTtlSeconds = opts.credentialTtlSeconds ?? AGENT_CREDENTIAL_TTL_SECONDS;
  inTransaction(d, () => {
    d.prepare("INSERT OR IGNORE INTO agents (id, created_at) VALUES (?, ?)").run(
      agentId,
      new Date().toISOString(),
    );
    d.prepare("DELETE FROM install_tokens WHERE agent_id = ? OR expires_at <= ?").run(agentId, Date.now());
    d.prepare("INSERT INTO install_tokens (token_hash, agent_id, expires_at) VALUES (?, ?, ?)").run(
      hashToken(token),
      agentId,
      expiresAt,
    );
    d.prepare(
      "INSERT INTO agent_credential_ttl (agent_id, seconds) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET seconds = excluded.seconds",
    ).run(agentId, credentialTtlSeconds);
  });
  ctx.log.info(
    { [F.name]: agentId, expiresAt: new Date(expiresAt).toISOString() },
    "agent install token issued",
  );
  return { agentId, installToken: token, expiresAt: new Date(expiresAt).toISOString(), credentialTtlSeconds };
}

/** Everything `agentId` and its workspaces authenticate with is deleted; their streams end. */
export function revokeAgent(ctx: ServerContext, agentId: string) {
  const d = db(ctx);
  const revoked = inTransaction(d, () => {
    const run = (sql: string) => Number(d.prepare(sql).run(agentId).changes);
    return {
      installTokens: run("DELETE FROM install_tokens WHERE agent_id = ?"),
      agentCredentials: run("DELETE FROM credentials WHERE kind = 'agent' AND subject = ?"),
      workspaceCredentials: run(
        "DELETE FROM credentials WHERE kind = 'workspace' AND subject IN (SELECT id FROM workspaces WHERE agent_id = ?)",
      ),
    };
  });
  let streamsClosed = ctx.hub.drop({ stream: "agent", target: agentId });
  for (const row of d.prepare("SELECT id FROM workspaces WHERE agent_id = ?").all(agentId))
    streamsClosed += ctx.hub.drop({ stream: "workspace", target: String(row.id) });
  ctx.log.warn({ [F.name]: agentId, ...revoked, streamsClosed }, "agent revoked");
  return { revoked, streamsClosed };
}

function mintAgentCredential(ctx: ServerContext, agentId: string, how: string): AgentCredential {
  const row = db(ctx).prepare("SELECT seconds FROM agent_credential_ttl WHERE agent_id = ?").get(agentId);
  const ttl = row ? Number(row.seconds) : AGENT_CREDENTIAL_TTL_SECONDS;
  const token = mintToken("agent");
  const expiresAt = Date.now() + ttl * 1000;
  ctx.store.addCredential(hashToken(token), "agent", agentId, expiresAt);
  const credential = { agentId, token, expiresAt: new Date(expiresAt).toISOString() };
  ctx.log.info({ [F.name]: agentId, expiresAt: credential.expiresAt }, `agent credential issued (${how})`);
  return credential;
}

type Route = (
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: Record<string, string>,
) => void;

/** The request's bearer token; a 401 naming what to send when there is none. */
function bearerOf(req: IncomingMessage, what: string): string {
  const token = bearerToken(req.headers.authorization);
  if (!token) throw unauthorized(`missing bearer token: send Authorization: Bearer <${what}>`);
  return token;
}

/** `POST /v1/agents/{agentId}/credentials/exchange` with the install token: used up here, once. */
export const exchangeRoute: Route = (ctx, req, res, p) => {
  const agentId = p.agentId!;
  const hash = hashToken(bearerOf(req, "install token"));
  const consumed = db(ctx)
    .prepare(
      "DELETE FROM install_tokens WHERE token_hash = ? AND agent_id = ? AND expires_at > ? RETURNING agent_id",
    )
    .get(hash, agentId, Date.now());
  if (consumed) {
    sendJson(res, 200, mintAgentCredential(ctx, agentId, "install token exchanged"));
    return;
  }
  const other = db(ctx).prepare("SELECT agent_id FROM install_tokens WHERE token_hash = ?").get(hash);
  if (other && String(other.agent_id) !== agentId)
    throw forbidden(`this install token belongs to another agent, not to agent "${agentId}"`);
  const cred = ctx.store.findCredential(hash);
  if (cred?.kind === "agent" && cred.subject === agentId && cred.expiresAt === undefined)
    throw forbidden(
      "this is a long-lived agent token, which is not exchanged: send it as it is (deprecated; ask for an install token)",
    );
  if (cred) throw forbidden("only an install token is exchanged; renew a credential at credentials/refresh");
  throw unauthorized("unknown, already used or expired install token: ask for a new install token");
};

/** `POST /v1/agents/{agentId}/credentials/refresh` with the agent's current, unexpired credential. */
export const refreshRoute: Route = (ctx, req, res, p) => {
  const agentId = p.agentId!;
  const cred = ctx.store.findCredential(hashToken(bearerOf(req, "agent credential")));
  if (!cred || (cred.expiresAt !== undefined && cred.expiresAt <= Date.now()))
    throw unauthorized("unknown, revoked or expired agent credential: exchange a new install token");
  if (cred.kind !== "agent") throw forbidden("a workspace token cannot renew an agent credential");
  if (cred.subject !== agentId)
    throw forbidden(`this credential belongs to another agent, not to agent "${agentId}"`);
  if (cred.expiresAt === undefined)
    throw forbidden(
      "a long-lived agent token is not renewed: send it as it is (deprecated; ask for an install token)",
    );
  sendJson(res, 200, mintAgentCredential(ctx, agentId, "renewed"));
};

/** `POST /admin/agents/{agentId}/install-token`. */
export async function installTokenAdminRoute(
  ctx: ServerContext,
  req: IncomingMessage,
  p: Record<string, string>,
) {
  const parsed = installTokenRequest.safeParse(await readJsonObject(req));
  if (!parsed.success) throw invalid(`install token request is invalid: ${describeIssues(parsed.error)}`);
  const agentId = dnsLabel(63).safeParse(p.agentId);
  if (!agentId.success) throw invalid(`agent id is invalid: ${describeIssues(agentId.error)}`);
  return issueInstallToken(ctx, agentId.data, parsed.data);
}

/** `POST /admin/agents/{agentId}/revoke`. */
export function revokeAdminRoute(ctx: ServerContext, _req: IncomingMessage, p: Record<string, string>) {
  if (!ctx.store.agentExists(p.agentId!)) throw notFound(`no agent "${p.agentId}"`);
  return revokeAgent(ctx, p.agentId!);
}
