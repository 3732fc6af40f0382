// A snapshot's list is read item by item: the envelope first (an array), then each item against its
// own schema. One invalid item is refused with its reason and the others are still applied; the
// refused item keeps whatever the agent already holds for it (it is never taken for absent). An
// item whose id cannot be read cannot be matched to anything, so the agents then orphan nothing.
import type { z } from "zod";
import { generation } from "./common.ts";
import type { SignatureReason } from "./signing.ts";

/** One item of a snapshot that was not accepted. */
export interface RefusedItem {
  /** Its position in the snapshot's list. */
  index: number;
  /**
   * The item's id (a workspace) or name (a deployment) when it could be read and is a valid one;
   * undefined: the item cannot be matched to anything (the snapshot is then ambiguous).
   */
  key: string | undefined;
  /** Its generation, when it could be read. */
  generation: number | undefined;
  /** Why, field paths first: `workspaces.1.quota.cpu: must be a Kubernetes quantity…`. */
  error: string;
  /** Set when its signature was refused (signed desired state); otherwise the schema refused it. */
  reason?: SignatureReason;
}

export interface ReadItems<T> {
  items: T[];
  refused: RefusedItem[];
}

/** How items of a list are told apart: the field holding their key, and what a valid key is. */
export interface ItemKey {
  field: string;
  schema: z.ZodType<string>;
}

/**
 * Reads `list` (the snapshot's `field`) item by item. Two items with the same key are both refused:
 * which one the control plane meant cannot be known, so the agent keeps what it holds for that key.
 */
export function readItems<T>(
  list: readonly unknown[],
  field: string,
  schema: z.ZodType<T>,
  key: ItemKey,
): ReadItems<T> {
  const keys = list.map((raw) => readField(raw, key.field, key.schema));
  const counts = new Map<string, number>();
  for (const k of keys) if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  const out: ReadItems<T> = { items: [], refused: [] };
  list.forEach((raw, index) => {
    const k = keys[index];
    const refuse = (error: string) =>
      out.refused.push({ index, key: k, generation: readField(raw, "generation", generation), error });
    const times = k === undefined ? 0 : (counts.get(k) ?? 0);
    if (times > 1) {
      refuse(
        `${field}.${index}: ${key.field} "${k}" is listed ${times} times; which one is meant cannot be known`,
      );
      return;
    }
    const parsed = schema.safeParse(raw);
    if (parsed.success) out.items.push(parsed.data);
    else refuse(describeIssues(parsed.error, [field, index]));
  });
  return out;
}

/** `raw[field]` if `raw` is an object whose `field` passes `schema`; otherwise undefined. */
function readField<T>(raw: unknown, field: string, schema: z.ZodType<T>): T | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || !Object.hasOwn(raw, field))
    return undefined;
  const r = schema.safeParse((raw as Record<string, unknown>)[field]);
  return r.success ? r.data : undefined;
}

/** `quota.cpu: must be a Kubernetes quantity…; name: too long` — field paths first, for humans. */
export function describeIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = [...prefix, ...i.path];
      return `${path.length ? path.map(String).join(".") : "(root)"}: ${i.message}`;
    })
    .join("; ");
}
