// The two rules both agents apply to desired state as it arrives (issue 15, defects 3 and 4; see
// docs/decisions.md 23 and 24). Generations only move forward: a spec, or a delete naming a
// generation, older than the generation held — the newest accepted in this session or the one the
// cluster recorded, which survives restarts — is refused and changes nothing; equal is a harmless
// re-apply. A snapshot is applied item by item: a refused item keeps what is held for it and is never
// taken for absent, and an item that cannot be identified makes the snapshot orphan nothing.
import type { RefusedItem } from "../protocol/items.ts";
import type { SignatureReason } from "../protocol/signing.ts";

/** Why the latest spec received for an object was not accepted (reported as condition SpecRejected). */
export interface Rejection {
  /** A signature reason when the event (item) failed verification (signed desired state). */
  reason: "InvalidSpec" | "StaleGeneration" | SignatureReason;
  message: string;
}

/** The newest generation accepted per object in this session. */
export class Generations {
  readonly #accepted = new Map<string, number>();
  /** `what`: how a refusal names an object, e.g. "workspace"; `holder`: who holds it, e.g. "the agent". */
  readonly #what: string;
  readonly #holder: string;

  constructor(what: string, holder: string) {
    this.#what = what;
    this.#holder = holder;
  }

  raise(key: string, generation: number): void {
    if (generation > (this.#accepted.get(key) ?? 0)) this.#accepted.set(key, generation);
  }

  /** The object's deletion completed: nothing of it is held any more. */
  forget(key: string): void {
    this.#accepted.delete(key);
  }

  /**
   * A rejection when `generation` is older than the one held for `key` (`recorded`: the generation
   * the cluster holds for it, if any); undefined when it may be acted on.
   */
  check(
    key: string,
    generation: number,
    kind: "spec" | "delete",
    recorded: number | undefined,
  ): Rejection | undefined {
    const held = Math.max(this.#accepted.get(key) ?? 0, recorded ?? 0);
    if (generation >= held) return undefined;
    const subject = kind === "spec" ? `spec generation ${generation}` : `delete of generation ${generation}`;
    return {
      reason: "StaleGeneration",
      message: `${this.#what} ${key}: ${subject} is older than generation ${held}, which ${this.#holder} already holds; ignored (generations only move forward)`,
    };
  }
}

export interface SnapshotInput<S> {
  /** The snapshot's valid items, and those refused by the schema. */
  items: readonly S[];
  refused: readonly RefusedItem[];
  key(spec: S): string;
  /** A rejection if the item is older than what is held (Generations.check). */
  stale(spec: S): Rejection | undefined;
  /** The specs held before this snapshot. */
  previous: ReadonlyMap<string, S>;
}

export interface SnapshotPlan<S> {
  /** The desired specs from now on: those accepted, and those held for refused or (ambiguous) unlisted items. */
  specs: Map<string, S>;
  accepted: S[];
  /** Rejections by key: invalid items (already counted by the stream) and stale ones. */
  rejections: Map<string, Rejection>;
  /** The stale items' reasons, for rejectedEvents (the stream counted the invalid ones itself). */
  refusals: string[];
  /** Keys the snapshot names, accepted or refused: none of them is absent. */
  listed: Set<string>;
  /** An item could not be identified: nothing may be taken for absent. */
  ambiguous: boolean;
}

/** What a snapshot does to the desired specs (pure; the caller keeps its own bookkeeping). */
export function planSnapshot<S>(input: SnapshotInput<S>): SnapshotPlan<S> {
  const rejections = new Map<string, Rejection>();
  for (const item of input.refused)
    if (item.key !== undefined)
      rejections.set(item.key, { reason: item.reason ?? "InvalidSpec", message: item.error });
  const accepted: S[] = [];
  const refusals: string[] = [];
  for (const spec of input.items) {
    const stale = input.stale(spec);
    if (stale) {
      rejections.set(input.key(spec), stale);
      refusals.push(stale.message);
    } else accepted.push(spec);
  }
  const ambiguous = input.refused.some((item) => item.key === undefined);
  const specs = new Map(accepted.map((s) => [input.key(s), s]));
  // A refused item keeps the spec held for it; an ambiguous snapshot keeps every unlisted one.
  for (const [key, spec] of input.previous)
    if (!specs.has(key) && (rejections.has(key) || ambiguous)) specs.set(key, spec);
  const listed = new Set([...accepted.map(input.key), ...rejections.keys()]);
  return { specs, accepted, rejections, refusals, listed, ambiguous };
}
