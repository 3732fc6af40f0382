// The events of the two SSE streams, and the one function that validates them on arrival. A
// snapshot is read item by item (items.ts): its valid items arrive in `workspaces`/`deployments`,
// the others in `refused` with their reasons. A delete may name the generation it deletes.
import { z } from "zod";
import { epoch, generation } from "./common.ts";
import { deploymentSpec, streamedDeploymentSpec } from "./deployment.ts";
import { describeIssues, readItems } from "./items.ts";
import { MAX_DEPLOYMENTS, MAX_NAME_LENGTH, MAX_WORKSPACES } from "./limits.ts";
import { workspaceSpec } from "./workspace.ts";

/** Events of `GET /v1/agents/{agentId}/stream`, by SSE event type. */
export const agentEvents = {
  snapshot: z.object({ workspaces: z.array(z.unknown()).max(MAX_WORKSPACES) }).transform(({ workspaces }) => {
    const { items, refused } = readItems(workspaces, "workspaces", workspaceSpec, {
      field: "id",
      schema: workspaceSpec.shape.id,
    });
    return { workspaces: items, refused };
  }),
  "workspace.upsert": z.object({ workspace: workspaceSpec }),
  /** `generation`: the one being deleted; a delete older than the generation held is refused. */
  "workspace.delete": z.object({
    id: z.string().min(1).max(MAX_NAME_LENGTH),
    generation: generation.optional(),
    epoch: epoch.optional(),
  }),
} as const;

/** Events of `GET /v1/workspaces/{workspaceId}/stream`, by SSE event type. */
export const workspaceEvents = {
  snapshot: z
    .object({
      workspaceId: z.string().min(1).max(MAX_NAME_LENGTH),
      deployments: z.array(z.unknown()).max(MAX_DEPLOYMENTS),
    })
    .transform(({ workspaceId, deployments }) => {
      const { items, refused } = readItems(deployments, "deployments", streamedDeploymentSpec, {
        field: "name",
        schema: deploymentSpec.shape.name,
      });
      return { workspaceId, deployments: items, refused };
    }),
  "deployment.upsert": z.object({ deployment: streamedDeploymentSpec }),
  /** `generation`: the one being deleted; a delete older than the generation held is refused. */
  "deployment.delete": z.object({
    name: z.string().min(1).max(MAX_NAME_LENGTH),
    generation: generation.optional(),
    epoch: epoch.optional(),
  }),
} as const;

type EventMap = Record<string, z.ZodType>;
export type EventOf<M extends EventMap> = {
  [K in keyof M & string]: { type: K; id: string | undefined; data: z.infer<M[K]> };
}[keyof M & string];

export type AgentEvent = EventOf<typeof agentEvents>;
export type WorkspaceEvent = EventOf<typeof workspaceEvents>;

export type ParseResult<E> = { ok: true; event: E } | { ok: false; error: string };

/** How long an event type may be in a reason; a hostile one can be megabytes long. */
const TYPE_SHOWN = 100;

/**
 * An event type as reasons and logs show it: JSON-quoted (control characters escaped, so a type
 * cannot forge terminal output) and cut to 100 characters with an ellipsis.
 */
export function showEventType(type: string): string {
  return JSON.stringify(type.length > TYPE_SHOWN ? `${type.slice(0, TYPE_SHOWN)}…` : type);
}

/**
 * Validates one SSE message against a stream's event map. Never throws: a message that is not
 * JSON, of an unknown type, or not matching its schema yields `ok: false` with a readable reason
 * naming the offending field. A snapshot whose envelope is valid is `ok` even when some of its items
 * are not: those are in its `refused`, each with its reason.
 */
export function parseEvent<M extends EventMap>(
  map: M,
  type: string,
  id: string | undefined,
  data: string,
): ParseResult<EventOf<M>> {
  const schema = Object.hasOwn(map, type) ? map[type] : undefined;
  if (!schema) return { ok: false, error: `unknown event type ${showEventType(type)}` };
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

export type { RefusedItem } from "./items.ts";
export { describeIssues } from "./items.ts";
