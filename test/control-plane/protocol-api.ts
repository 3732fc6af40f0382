// Protocol v1 as served to agents and workspace agents: the two SSE streams, the two status
// endpoints and the workspace credential endpoints. docs/protocol.md is the prose of this file.
import type { IncomingMessage, ServerResponse } from "node:http";
import { F } from "@meridian/shared/log";
import {
  agentStatus,
  describeIssues,
  MAX_STATUS_BYTES,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  type WorkspaceCredential,
  workspaceAgentStatus,
} from "@meridian/shared/protocol/index";
import { exchangeRoute, refreshRoute } from "./agent-credentials.ts";
import type { StreamKind } from "./change-log.ts";
import type { ServerContext } from "./context.ts";
import {
  ApiError,
  forbidden,
  invalid,
  matchPath,
  notFound,
  readJson,
  sendJson,
  sendNoContent,
  unauthorized,
} from "./http-io.ts";
import type { SseEvent } from "./sse-hub.ts";
import type { Credential } from "./store.ts";
import { bearerToken, hashToken, mintToken } from "./tokens.ts";

type Handler = (
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
) => Promise<void> | void;

const routes: Array<{ method: string; pattern: string; handle: Handler }> = [
  { method: "GET", pattern: "/v1/agents/:agentId/stream", handle: agentStream },
  { method: "POST", pattern: "/v1/agents/:agentId/status", handle: postAgentStatus },
  { method: "POST", pattern: "/v1/agents/:agentId/credentials/exchange", handle: exchangeRoute },
  { method: "POST", pattern: "/v1/agents/:agentId/credentials/refresh", handle: refreshRoute },
  {
    method: "POST",
    pattern: "/v1/agents/:agentId/workspaces/:workspaceId/credentials",
    handle: issueCredential,
  },
  { method: "GET", pattern: "/v1/workspaces/:workspaceId/stream", handle: workspaceStream },
  { method: "POST", pattern: "/v1/workspaces/:workspaceId/status", handle: postWorkspaceStatus },
  { method: "POST", pattern: "/v1/workspaces/:workspaceId/credentials/refresh", handle: refreshCredential },
];

/** Rejects a request that does not speak protocol version 1 (400 protocol_version_unsupported). */
export function checkProtocolVersion(req: IncomingMessage): void {
  const sent = req.headers[PROTOCOL_HEADER];
  if (sent === PROTOCOL_VERSION) return;
  const what = sent === undefined ? `no ${PROTOCOL_HEADER} header` : `version ${JSON.stringify(sent)}`;
  throw new ApiError(
    400,
    "protocol_version_unsupported",
    `this control plane speaks protocol version ${PROTOCOL_VERSION}; the client sent ${what}. ` +
      `Upgrade the agent to a release that speaks protocol version ${PROTOCOL_VERSION} ` +
      `and sends "${PROTOCOL_HEADER}: ${PROTOCOL_VERSION}" on every request.`,
  );
}

/** Serves one /v1 request; throws ApiError for every refusal. */
export async function handleProtocol(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  checkProtocolVersion(req);
  for (const route of routes) {
    const params = matchPath(route.pattern, path);
    if (params && route.method === req.method) return route.handle(ctx, req, res, params);
  }
  throw notFound(`no route ${req.method} ${path} in protocol v1 (see docs/protocol.md)`);
}

function authenticate(ctx: ServerContext, req: IncomingMessage): Credential {
  const token = bearerToken(req.headers.authorization);
  if (!token) throw unauthorized("missing bearer token: send Authorization: Bearer <token>");
  const cred = ctx.store.findCredential(hashToken(token));
  if (!cred)
    throw unauthorized(
      "unknown or revoked token: use the agent's current token or a fresh workspace credential",
    );
  if (cred.expiresAt !== undefined && cred.expiresAt <= Date.now()) {
    throw unauthorized(
      cred.kind === "agent"
        ? `agent credential expired at ${new Date(cred.expiresAt).toISOString()}: renew it before it expires, or exchange a new install token`
        : `workspace token expired at ${new Date(cred.expiresAt).toISOString()}: ask the agent for a new credential`,
    );
  }
  return cred;
}

function requireAgent(ctx: ServerContext, req: IncomingMessage, agentId: string): void {
  const cred = authenticate(ctx, req);
  if (cred.kind !== "agent")
    throw forbidden("a workspace token cannot use the agent endpoints; use the agent's token");
  if (cred.subject !== agentId)
    throw forbidden(`this token belongs to another agent, not to agent "${agentId}"`);
}

function requireWorkspace(ctx: ServerContext, req: IncomingMessage, workspaceId: string): void {
  const cred = authenticate(ctx, req);
  if (cred.kind !== "workspace") {
    throw forbidden("an agent token cannot use the workspace endpoints; use a workspace credential");
  }
  if (cred.subject !== workspaceId) {
    throw forbidden(`this token belongs to another workspace, not to workspace "${workspaceId}"`);
  }
}

/** What a (re)connecting stream gets first: the replay after Last-Event-ID, or a snapshot. */
function initialEvents(
  ctx: ServerContext,
  req: IncomingMessage,
  stream: StreamKind,
  target: string,
  snapshot: () => unknown,
): SseEvent[] {
  const lastEventId = req.headers["last-event-id"];
  // The snapshot names the database's epoch itself (not only its items'), so that an empty one from a
  // control plane that lost its data is told from a replayed old one (signed events, decision 41).
  const epoch = (ctx.store as { epoch?: number }).epoch;
  const withEpoch = () => ({ ...(snapshot() as object), ...(epoch ? { epoch } : {}) });
  if (typeof lastEventId === "string" && lastEventId !== "") {
    const changes = ctx.store.log.changesAfter(stream, target, lastEventId.trim());
    if (changes) return changes.map((c) => ({ id: String(c.seq), type: c.type, data: c.data }));
  }
  return [{ id: String(ctx.store.log.head()), type: "snapshot", data: JSON.stringify(withEpoch()) }];
}

function agentStream(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: Record<string, string>,
) {
  const agentId = p.agentId!;
  requireAgent(ctx, req, agentId);
  const initial = initialEvents(ctx, req, "agent", agentId, () => ({
    workspaces: ctx.store.listWorkspaces(agentId),
  }));
  ctx.hub.open(req, res, "agent", agentId, initial);
}

function workspaceStream(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: Record<string, string>,
) {
  const workspaceId = p.workspaceId!;
  requireWorkspace(ctx, req, workspaceId);
  const ws = ctx.store.getWorkspace(workspaceId);
  if (!ws || ws.deleted) throw notFound(`workspace "${workspaceId}" does not exist`);
  const initial = initialEvents(ctx, req, "workspace", workspaceId, () => ({
    workspaceId,
    deployments: ctx.store.listDeployments(workspaceId),
  }));
  ctx.hub.open(req, res, "workspace", workspaceId, initial);
}

async function postAgentStatus(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: Record<string, string>,
) {
  const agentId = p.agentId!;
  requireAgent(ctx, req, agentId);
  const parsed = agentStatus.safeParse(await readJson(req, MAX_STATUS_BYTES));
  if (!parsed.success) throw invalid(`agent status is invalid: ${describeIssues(parsed.error)}`);
  if (parsed.data.agent.id !== agentId) {
    throw invalid(`agent.id: must be "${agentId}", the agent id of the path, not "${parsed.data.agent.id}"`);
  }
  const at = new Date().toISOString();
  ctx.store.putStatus("agent", agentId, parsed.data, at);
  ctx.store.finalSavepoints.record(agentId, parsed.data, (id) => liveOwner(ctx, id), at);
  ctx.log.debug({ [F.name]: agentId }, "agent status received");
  sendNoContent(res);
}

/** The agent of a live workspace, or undefined (deleted, or unknown here). */
function liveOwner(ctx: ServerContext, id: string): string | undefined {
  const ws = ctx.store.getWorkspace(id);
  return ws && !ws.deleted ? ws.agentId : undefined;
}

async function postWorkspaceStatus(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: Record<string, string>,
) {
  const workspaceId = p.workspaceId!;
  requireWorkspace(ctx, req, workspaceId);
  const parsed = workspaceAgentStatus.safeParse(await readJson(req, MAX_STATUS_BYTES));
  if (!parsed.success) throw invalid(`workspace status is invalid: ${describeIssues(parsed.error)}`);
  if (parsed.data.workspaceId !== workspaceId) {
    throw invalid(`workspaceId: must be "${workspaceId}", the workspace id of the path`);
  }
  ctx.store.putStatus("workspace", workspaceId, parsed.data, new Date().toISOString());
  ctx.log.debug({ [F.workspace]: workspaceId }, "workspace status received");
  sendNoContent(res);
}

function mintCredential(ctx: ServerContext, workspaceId: string): WorkspaceCredential {
  const token = mintToken("workspace");
  const expiresAt = Date.now() + ctx.workspaceTokenTtlSeconds * 1000;
  ctx.store.addCredential(hashToken(token), "workspace", workspaceId, expiresAt);
  const credential = { workspaceId, token, expiresAt: new Date(expiresAt).toISOString() };
  ctx.log.info(
    { [F.workspace]: workspaceId, expiresAt: credential.expiresAt },
    "workspace credential issued",
  );
  return credential;
}

function issueCredential(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: Record<string, string>,
) {
  const agentId = p.agentId!;
  const workspaceId = p.workspaceId!;
  requireAgent(ctx, req, agentId);
  const ws = ctx.store.getWorkspace(workspaceId);
  if (!ws || ws.deleted || ws.agentId !== agentId) {
    throw notFound(`agent "${agentId}" has no workspace "${workspaceId}"`);
  }
  sendJson(res, 200, mintCredential(ctx, workspaceId));
}

function refreshCredential(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: Record<string, string>,
) {
  const workspaceId = p.workspaceId!;
  requireWorkspace(ctx, req, workspaceId);
  const ws = ctx.store.getWorkspace(workspaceId);
  if (!ws || ws.deleted) throw notFound(`workspace "${workspaceId}" does not exist`);
  sendJson(res, 200, mintCredential(ctx, workspaceId));
}
