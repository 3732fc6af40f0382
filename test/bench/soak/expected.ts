// What the control plane asked for, read from its own change log (test/control-plane/change-log.ts)
// through a second, read-only connection to its SQLite file: per item, every generation it logged in
// order and whether its last change was a delete. This is the side the soak compares the cluster with.
import { DatabaseSync } from "node:sqlite";
import { type Change, ChangeLog, type StreamKind } from "../../control-plane/change-log.ts";

export interface ExpectedItem {
  /** Generations of its upserts, in log order. */
  generations: number[];
  /** The last change was a delete. */
  deleted: boolean;
  /** Deletes logged (a re-created item has one before its last upsert). */
  deletes: number;
  /** The spec of its last upsert, as sent. */
  spec: Record<string, unknown>;
}

export interface Expected {
  /** The stream's changes after the starting point, oldest first. */
  changes: Change[];
  items: Map<string, ExpectedItem>;
  /** Sequence of the stream's last change ("" when none). */
  lastEventId: string;
}

/**
 * The changes of one stream after `after` (an event id the stream had when the soak began). Fails
 * when the log no longer reaches back that far: the comparison would be incomplete.
 */
export function readExpected(dbPath: string, stream: StreamKind, target: string, after: string): Expected {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    const log = new ChangeLog(db, Number.MAX_SAFE_INTEGER);
    const changes = log.changesAfter(stream, target, after);
    if (!changes)
      throw new Error(
        `the control plane's change log no longer holds the changes after ${after} (floor ${log.floor()}, head ${log.head()}); ` +
          "start it with a larger changeLogLimit or churn less",
      );
    const items = new Map<string, ExpectedItem>();
    for (const c of changes) {
      const { key, generation, spec } = itemOf(c);
      const item = items.get(key) ?? { generations: [], deleted: false, deletes: 0, spec: {} };
      if (generation === undefined) {
        item.deleted = true;
        item.deletes++;
      } else {
        item.generations.push(generation);
        item.deleted = false;
        item.spec = spec ?? {};
      }
      items.set(key, item);
    }
    return { changes, items, lastEventId: changes.length ? String(changes.at(-1)!.seq) : "" };
  } finally {
    db.close();
  }
}

/** The item a change is about and, for an upsert, the generation it carries. */
function itemOf(c: Change): { key: string; generation?: number; spec?: Record<string, unknown> } {
  const data = JSON.parse(c.data) as Record<string, Record<string, unknown> | string>;
  switch (c.type) {
    case "workspace.upsert":
    case "deployment.upsert": {
      const spec = (data.workspace ?? data.deployment) as Record<string, unknown>;
      return { key: String(spec.id ?? spec.name), generation: Number(spec.generation), spec };
    }
    case "workspace.delete":
      return { key: String(data.id) };
    case "deployment.delete":
      return { key: String(data.name) };
    default:
      throw new Error(`change ${c.seq} has type ${c.type}, which the soak does not know`);
  }
}

/** Items whose last change is an upsert, with that generation. */
export function liveGenerations(e: Expected): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, item] of e.items) if (!item.deleted) out.set(k, item.generations.at(-1)!);
  return out;
}
