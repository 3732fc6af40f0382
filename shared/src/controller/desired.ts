// The two rules both agents apply to desired state as it arrives (issue 15, defects 3 and 4; see
// docs/decisions.md 23 and 24). Generations only move forward: a spec, or a delete naming a
// generation, older than the generation held — the newest accepted in this session or the one the
// cluster recorded, which survives restarts — is refused and changes nothing; equal is a harmless
// re-apply. A snapshot is applied item by item: a refused item keeps what is held for it and is never
// taken for absent, and an item that cannot be identified makes the snapshot orphan nothing.
import type { RefusedItem } from "../protocol/items.ts";
import type { SignatureReason } from "../protocol/signing.ts";
import { asHeld, type Held, judgeStamp, laterHeld } from "./epoch.ts";

/** Why the latest spec received for an object was not accepted (reported as condition SpecRejected). */
export interface Rejection {
  /** A signature reason when the event (item) failed verification (signed desired state). */
  reason: "InvalidSpec" | "StaleGeneration" | SignatureReason;
  message: string;
}

/**
 * The newest generation accepted per object in this session, with the control plane's epoch it came
 * in (epoch.ts: a bare number is epoch 0). Generations compare within one epoch; across epochs
 * `judgeStamp` decides.
 */
export class Generations {
  readonly #accepted = new Map<string, Held>();
  /** `what`: how a refusal names an object, e.g. "workspace"; `holder`: who holds it, e.g. "the agent". */
  readonly #what: string;
  readonly #holder: string;

  constructor(what: string, holder: string) {
    this.#what = what;
    this.#holder = holder;
  }

  raise(key: string, stamp: number | Held): void {
    const next = laterHeld(asHeld(stamp), this.#accepted.get(key));
    if (next) this.#accepted.set(key, next);
  }

  /** The object's deletion completed: nothing of it is held any more. */
  forget(key: string): void {
    this.#accepted.delete(key);
  }

  /**
   * A rejection when `incoming` may not be acted on against what is held for `key` (`recorded`: what
   * the cluster holds for it, if anything); undefined when it may.
   */
  check(
    key: string,
    incoming: number | Held,
    kind: "spec" | "delete",
    recorded: number | Held | undefined,
  ): Rejection | undefined {
    const stamp = asHeld(incoming);
    const held = this.#held(key, recorded);
    const verdict = held ? judgeStamp(stamp, held, kind) : "accept";
    if (!held || verdict === "accept") return undefined;
    const g = stamp.generation;
    const subject = kind === "spec" ? `spec generation ${g}` : `delete of generation ${g}`;
    const of = `${this.#what} ${key}: ${subject}`;
    const holds = `which ${this.#holder} already holds; ignored`;
    const message =
      verdict === "olderGeneration"
        ? `${of} is older than generation ${held.generation}, ${holds} (generations only move forward)`
        : verdict === "olderEpoch"
          ? `${of} is from control-plane epoch ${stamp.epoch}, older than epoch ${held.epoch} (generation ${held.generation}), ${holds} (epochs only move forward)`
          : `${of} of the control plane's new epoch ${stamp.epoch} is a different spec than generation ${held.generation} of epoch ${held.epoch}, ${holds}: a new epoch takes over a spec unchanged or with a generation above ${held.generation}, never rolls it back`;
    return { reason: "StaleGeneration", message };
  }

  /** What to log when accepting `incoming` moves `key` into a newer control-plane epoch; else undefined. */
  epochChange(key: string, incoming: Held, recorded: number | Held | undefined): string | undefined {
    const held = this.#held(key, recorded);
    if (!held || incoming.epoch <= held.epoch) return undefined;
    const same = incoming.digest !== undefined && incoming.digest === held.digest;
    return `${this.#what} ${key}: the control plane's epoch changed from ${held.epoch} to ${incoming.epoch} (it lost its data or was restored); its generation ${incoming.generation} takes over from generation ${held.generation}${same ? " with the spec unchanged" : ""}`;
  }

  #held(key: string, recorded: number | Held | undefined): Held | undefined {
    return laterHeld(this.#accepted.get(key), recorded === undefined ? undefined : asHeld(recorded));
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
