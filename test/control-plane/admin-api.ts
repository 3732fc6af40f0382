// The admin API of the reference control plane: what a vendor's backend would do (create agents,
// put desired state, read status) plus fault injection. docs/control-plane.md is its prose.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { F } from "@meridian/shared/log";
import {
  describeIssues,
  dnsLabel,
  streamedDeploymentSpec,
  workspaceSpec,
} from "@meridian/shared/protocol/index";
import { z } from "zod";
import { installTokenAdminRoute, revokeAdminRoute } from "./agent-credentials.ts";
import { publishChanges, type ServerContext } from "./context.ts";
import { fault } from "./faults.ts";
import { invalid, matchPath, notFound, readJsonObject, sendJson, unauthorized } from "./http-io.ts";
import { bearerToken, hashToken, mintToken } from "./tokens.ts";

type Params = Record<string, string>;
type Handler = (ctx: ServerContext, req: IncomingMessage, p: Params) => Promise<unknown> | unknown;

const newAgent = z.object({ id: dnsLabel(63) });
/** `token`: the one workspace credential to revoke; without it, every credential of the workspace. */
const revocation = z.object({ token: z.string().min(1).max(4096).optional() });

const routes: Array<{ method: string; pattern: string; handle: Handler }> = [
  { method: "POST", pattern: "/admin/agents", handle: createAgent },
  { method: "GET", pattern: "/admin/agents/:agentId", handle: getAgent },
  { method: "POST", pattern: "/admin/agents/:agentId/install-token", handle: installTokenAdminRoute },
  { method: "POST", pattern: "/admin/agents/:agentId/revoke", handle: revokeAdminRoute },
  { method: "GET", pattern: "/admin/agents/:agentId/workspaces", handle: listWorkspaces },
  { method: "PUT", pattern: "/admin/agents/:agentId/workspaces/:id", handle: putWorkspace },
  { method: "GET", pattern: "/admin/agents/:agentId/workspaces/:id", handle: getAgentWorkspace },
  { method: "DELETE", pattern: "/admin/agents/:agentId/workspaces/:id", handle: deleteWorkspace },
  { method: "GET", pattern: "/admin/workspaces/:ws", handle: getWorkspace },
  { method: "GET", pattern: "/admin/workspaces/:ws/deployments", handle: listDeployments },
  { method: "PUT", pattern: "/admin/workspaces/:ws/deployments/:name", handle: putDeployment },
  { method: "GET", pattern: "/admin/workspaces/:ws/deployments/:name", handle: getDeployment },
  { method: "DELETE", pattern: "/admin/workspaces/:ws/deployments/:name", handle: deleteDeployment },
  { method: "GET", pattern: "/admin/workspaces/:ws/deployments/:name/status", handle: getDeploymentStatus },
  { method: "POST", pattern: "/admin/workspaces/:ws/credentials/revoke", handle: revokeCredentials },
  { method: "POST", pattern: "/admin/faults", handle: injectFault },
  { method: "GET", pattern: "/admin/streams", handle: listStreams },
];

/** Serves one /admin request; throws ApiError for every refusal. */
export async function handleAdmin(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  checkAdminToken(ctx, req);
  for (const route of routes) {
    const params = matchPath(route.pattern, path);
    if (params && route.method === req.method) {
      sendJson(res, 200, await route.handle(ctx, req, params));
      return;
    }
  }
  throw notFound(`no admin route ${req.method} ${path} (see docs/control-plane.md)`);
}

function checkAdminToken(ctx: ServerContext, req: IncomingMessage): void {
  if (ctx.adminToken === undefined) return;
  const token = bearerToken(req.headers.authorization);
  const ok =
    token !== undefined &&
    timingSafeEqual(Buffer.from(hashToken(token), "hex"), Buffer.from(hashToken(ctx.adminToken), "hex"));
  if (!ok) throw unauthorized("the admin API needs Authorization: Bearer <admin token> (--admin-token)");
}

function liveWorkspace(ctx: ServerContext, id: string, agentId?: string) {
  const ws = ctx.store.getWorkspace(id);
  if (!ws || ws.deleted || (agentId !== undefined && ws.agentId !== agentId)) {
    throw notFound(agentId ? `agent "${agentId}" has no workspace "${id}"` : `no workspace "${id}"`);
  }
  return ws;
}

function requireAgentExists(ctx: ServerContext, agentId: string): void {
  if (!ctx.store.agentExists(agentId))
    throw notFound(`no agent "${agentId}": create it with POST /admin/agents`);
}

/** Validates an admin spec body with the protocol schema; the key field comes from the path. */
function parseSpec<S extends z.ZodType>(
  schema: S,
  what: string,
  body: Record<string, unknown>,
  key: string,
  value: string,
): z.infer<S> {
  if (body[key] !== undefined && body[key] !== value) {
    throw invalid(`${what} is invalid: ${key}: must be "${value}" as in the path, or left out`);
  }
  const parsed = schema.safeParse({ ...body, [key]: value, generation: 1 });
  if (!parsed.success) throw invalid(`${what} is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

async function createAgent(ctx: ServerContext, req: IncomingMessage) {
  const parsed = newAgent.safeParse(await readJsonObject(req));
  if (!parsed.success) throw invalid(`agent is invalid: ${describeIssues(parsed.error)}`);
  const token = mintToken("agent");
  ctx.store.createAgent(parsed.data.id, hashToken(token));
  ctx.log.info({ [F.name]: parsed.data.id }, "agent token issued");
  return { id: parsed.data.id, token };
}

function getAgent(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  requireAgentExists(ctx, p.agentId!);
  const status = ctx.store.getStatus("agent", p.agentId!);
  return { id: p.agentId, lastHeartbeatAt: status?.receivedAt ?? null, status: status?.body ?? null };
}

function listWorkspaces(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  requireAgentExists(ctx, p.agentId!);
  return ctx.store.listWorkspaces(p.agentId!);
}

async function putWorkspace(ctx: ServerContext, req: IncomingMessage, p: Params) {
  const agentId = p.agentId!;
  requireAgentExists(ctx, agentId);
  const spec = parseSpec(workspaceSpec, "workspace spec", await readJsonObject(req), "id", p.id!);
  const existing = ctx.store.getWorkspace(spec.id);
  if (existing && !existing.deleted && existing.agentId !== agentId) {
    throw invalid(`id: workspace "${spec.id}" belongs to agent "${existing.agentId}"; delete it there first`);
  }
  const result = ctx.store.putWorkspace(agentId, spec);
  publishChanges(ctx, [result.change]);
  if (result.change) {
    ctx.log.info(
      { [F.workspace]: spec.id, generation: result.spec.generation, [F.eventId]: result.change.seq },
      "workspace upserted",
    );
  }
  return { workspace: result.spec, changed: result.change !== undefined, eventId: eventId(result.change) };
}

function getAgentWorkspace(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  return liveWorkspace(ctx, p.id!, p.agentId!).spec;
}

function deleteWorkspace(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  liveWorkspace(ctx, p.id!, p.agentId!);
  const changes = ctx.store.deleteWorkspace(p.id!);
  publishChanges(ctx, changes);
  ctx.hub.end({ stream: "workspace", target: p.id! });
  ctx.log.info({ [F.workspace]: p.id, [F.eventId]: changes.at(-1)?.seq }, "workspace deleted");
  return { deleted: true, eventId: eventId(changes.at(-1)) };
}

function getWorkspace(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  const ws = liveWorkspace(ctx, p.ws!);
  const status = ctx.store.getStatus("workspace", p.ws!);
  return {
    agentId: ws.agentId,
    spec: ws.spec,
    status: status?.body ?? null,
    lastHeartbeatAt: status?.receivedAt ?? null,
  };
}

function listDeployments(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  liveWorkspace(ctx, p.ws!);
  return ctx.store.listDeployments(p.ws!);
}

async function putDeployment(ctx: ServerContext, req: IncomingMessage, p: Params) {
  liveWorkspace(ctx, p.ws!);
  const spec = parseSpec(
    streamedDeploymentSpec,
    "deployment spec",
    await readJsonObject(req),
    "name",
    p.name!,
  );
  const result = ctx.store.putDeployment(p.ws!, spec);
  publishChanges(ctx, [result.change]);
  if (result.change) {
    ctx.log.info(
      {
        [F.workspace]: p.ws,
        [F.deployment]: spec.name,
        generation: result.spec.generation,
        [F.eventId]: result.change.seq,
      },
      "deployment upserted",
    );
  }
  return { deployment: result.spec, changed: result.change !== undefined, eventId: eventId(result.change) };
}

function getDeployment(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  liveWorkspace(ctx, p.ws!);
  const spec = ctx.store.getDeployment(p.ws!, p.name!);
  if (!spec) throw notFound(`workspace "${p.ws}" has no deployment "${p.name}"`);
  return spec;
}

function deleteDeployment(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  liveWorkspace(ctx, p.ws!);
  const change = ctx.store.deleteDeployment(p.ws!, p.name!);
  if (!change) throw notFound(`workspace "${p.ws}" has no deployment "${p.name}"`);
  publishChanges(ctx, [change]);
  ctx.log.info(
    { [F.workspace]: p.ws, [F.deployment]: p.name, [F.eventId]: change.seq },
    "deployment deleted",
  );
  return { deleted: true, eventId: eventId(change) };
}

function getDeploymentStatus(ctx: ServerContext, _req: IncomingMessage, p: Params) {
  liveWorkspace(ctx, p.ws!);
  const stored = ctx.store.getStatus("workspace", p.ws!);
  const deployments =
    (stored?.body as { deployments?: Array<{ name: string }> } | undefined)?.deployments ?? [];
  const status = deployments.find((d) => d.name === p.name) ?? null;
  return { name: p.name, status, reportedAt: status ? stored!.receivedAt : null };
}

/**
 * Revokes a workspace credential (or all of them) while its holder runs, as a vendor would after a
 * leak: every later request with it answers 401, and the workspace's open streams end so that their
 * next request meets the revocation at once (closed, not ended cleanly). 404 when the workspace or the named token is unknown.
 */
async function revokeCredentials(ctx: ServerContext, req: IncomingMessage, p: Params) {
  liveWorkspace(ctx, p.ws!);
  const parsed = revocation.safeParse(await readJsonObject(req));
  if (!parsed.success) throw invalid(`revocation is invalid: ${describeIssues(parsed.error)}`);
  const { token } = parsed.data;
  const revoked = ctx.store.revokeWorkspaceCredentials(
    p.ws!,
    token === undefined ? undefined : hashToken(token),
  );
  if (token !== undefined && revoked === 0)
    throw notFound(`workspace "${p.ws}" has no such credential (expired, revoked, or another workspace's)`);
  const closed = ctx.hub.drop({ stream: "workspace", target: p.ws! });
  ctx.log.warn({ [F.workspace]: p.ws, revoked }, "workspace credentials revoked");
  return { revoked, streamsClosed: closed };
}

async function injectFault(ctx: ServerContext, req: IncomingMessage) {
  const parsed = fault.safeParse(await readJsonObject(req));
  if (!parsed.success) throw invalid(`fault is invalid: ${describeIssues(parsed.error)}`);
  const f = parsed.data;
  ctx.log.warn({ fault: f.type }, "fault injected");
  switch (f.type) {
    case "drop-streams":
      return { dropped: ctx.hub.drop(f) };
    case "cut-next-event":
      ctx.hub.cutNext(f);
      return { armed: true };
    case "fail-requests":
      ctx.requestFaults.failNext(f.count, f.status);
      return { armed: true };
    case "stall-streams":
      ctx.hub.stall(f.ms, f);
      return { armed: true };
    case "truncate-log":
      ctx.store.log.truncate();
      return { floorEventId: String(ctx.store.log.floor()) };
    case "inject-event": {
      const id = String(ctx.store.log.burn());
      return {
        eventId: id,
        delivered: ctx.hub.publish(f.stream, f.target, { id, type: f.event, data: f.data }),
      };
    }
    case "clear":
      ctx.requestFaults.clear();
      ctx.hub.clearFaults();
      return { cleared: true };
  }
}

function listStreams(ctx: ServerContext) {
  return {
    headEventId: String(ctx.store.log.head()),
    floorEventId: String(ctx.store.log.floor()),
    changeLogSize: ctx.store.log.size(),
    streams: ctx.hub.list(),
  };
}

function eventId(change: { seq: number } | undefined): string | null {
  return change ? String(change.seq) : null;
}
