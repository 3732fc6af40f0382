// Control-plane epochs (docs/decisions.md 42, docs/protocol.md "Epochs"). A control plane that lost
// its data starts its generations again at 1; it says so by a new, higher `epoch` on what it sends.
// Generations compare only within one epoch. A newer epoch takes over an object only in ways that
// roll nothing back — an explicit delete, the spec the agent holds unchanged (its generation is
// renumbered), or a generation above the one held — and an older epoch is refused like an older
// generation, so a replayed or restored past cannot come back through a change of epoch.
import { createHash } from "node:crypto";

/** Where a spec stands in the control plane's history: its epoch (0: none named) and generation. */
export interface Stamp {
  epoch: number;
  generation: number;
}

/** What is held for an object: its stamp and, when known, the digest of its spec's content. */
export interface Held extends Stamp {
  digest?: string | undefined;
}

/** A bare generation is epoch 0, what every control plane sent before epochs. */
export function asHeld(v: number | Held): Held {
  return typeof v === "number" ? { epoch: 0, generation: v } : v;
}

/** The stamp of a spec or delete as it arrived. */
export function stampOf<S extends { epoch?: number | undefined; generation: number }>(o: S): Stamp {
  return { epoch: o.epoch ?? 0, generation: o.generation };
}

/** The stamp of a spec as it arrived, with the digest of its content. */
export function heldOf<S extends { epoch?: number | undefined; generation: number }>(spec: S): Held {
  return { ...stampOf(spec), digest: specDigest(spec) };
}

/** Epochs first, then generations. */
export function compareStamps(a: Stamp, b: Stamp): number {
  return a.epoch !== b.epoch ? a.epoch - b.epoch : a.generation - b.generation;
}

/** The later of two held records; on a tie the one that knows its digest. */
export function laterHeld(a: Held | undefined, b: Held | undefined): Held | undefined {
  if (!a || !b) return a ?? b;
  const c = compareStamps(a, b);
  if (c !== 0) return c > 0 ? a : b;
  return a.digest !== undefined ? a : b;
}

/** A digest of everything in a spec but its generation and epoch: equal for the same spec renumbered. */
export function specDigest(spec: object): string {
  const { generation: _g, epoch: _e, ...content } = spec as Record<string, unknown>;
  const sorted = JSON.stringify(content, (_key, v: unknown) =>
    v === null || typeof v !== "object" || Array.isArray(v)
      ? v
      : Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))),
  );
  return createHash("sha256").update(sorted).digest("hex").slice(0, 32);
}

/**
 * How something stamped `incoming` stands against what is held: acceptable, or why not. Within one
 * epoch: not below the generation held (equal is a harmless re-apply). Across epochs: never an older
 * one; a newer one for a delete, an unchanged spec, or a generation above the one held.
 */
export function judgeStamp(
  incoming: Held,
  held: Held,
  kind: "spec" | "delete",
): "accept" | "olderGeneration" | "olderEpoch" | "newEpochWouldRollBack" {
  if (incoming.epoch === held.epoch)
    return incoming.generation >= held.generation ? "accept" : "olderGeneration";
  if (incoming.epoch < held.epoch) return "olderEpoch";
  const unchanged = incoming.digest !== undefined && incoming.digest === held.digest;
  if (kind === "delete" || unchanged || incoming.generation > held.generation) return "accept";
  return "newEpochWouldRollBack";
}
