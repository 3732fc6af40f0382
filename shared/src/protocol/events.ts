// The events of the two SSE streams, and the one function that validates them on arrival.
import { z } from "zod";
import { deploymentSpec } from "./deployment.ts";
import { workspaceSpec } from "./workspace.ts";

/** Events of `GET /v1/agents/{agentId}/stream`, by SSE event type. */
export const agentEvents = {
  snapshot: z.object({ workspaces: z.array(workspaceSpec) }),
  "workspace.upsert": z.object({ workspace: workspaceSpec }),
  "workspace.delete": z.object({ id: z.string().min(1) }),
} as const;

/** Events of `GET /v1/workspaces/{workspaceId}/stream`, by SSE event type. */
export const workspaceEvents = {
  snapshot: z.object({ workspaceId: z.string().min(1), deployments: z.array(deploymentSpec) }),
  "deployment.upsert": z.object({ deployment: deploymentSpec }),
  "deployment.delete": z.object({ name: z.string().min(1) }),
} as const;

type EventMap = Record<string, z.ZodType>;
export type EventOf<M extends EventMap> = {
  [K in keyof M & string]: { type: K; id: string | undefined; data: z.infer<M[K]> };
}[keyof M & string];

export type AgentEvent = EventOf<typeof agentEvents>;
export type WorkspaceEvent = EventOf<typeof workspaceEvents>;

export type ParseResult<E> = { ok: true; event: E } | { ok: false; error: string };

/**
 * Validates one SSE message against a stream's event map. Never throws: a message that is not
 * JSON, of an unknown type, or not matching its schema yields `ok: false` with a readable reason
 * naming the offending field.
 */
export function parseEvent<M extends EventMap>(
  map: M,
  type: string,
  id: string | undefined,
  data: string,
): ParseResult<EventOf<M>> {
  const schema = Object.hasOwn(map, type) ? map[type] : undefined;
  if (!schema) return { ok: false, error: `unknown event type "${type}"` };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (err) {
    return { ok: false, error: `event "${type}" is not valid JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    return { ok: false, error: `event "${type}" is invalid: ${describeIssues(parsed.error)}` };
  return { ok: true, event: { type, id, data: parsed.data } as EventOf<M> };
}

/** `quota.cpu: must be a Kubernetes quantity…; name: too long` — field paths first, for humans. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}
