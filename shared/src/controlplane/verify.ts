// Verification of signed desired state, before anything is applied (docs/protocol.md "Signed events",
// docs/decisions.md 41). One verifier per stream client: it knows the pinned public keys, the
// stream's path (bound into every signature) and the newest event it accepted on that stream, so a
// validly signed but older event (a replay) is refused. Whatever is refused is refused with a named
// reason; a badly signed item of a snapshot is refused alone and the others stay applicable.
import type { KeyObject } from "node:crypto";
import {
  envelopeData,
  ITEM_SIGNATURES_MEMBER,
  keyIdOf,
  publicKeyText,
  SIGNATURE_MEMBER,
  type Signature,
  type SignatureReason,
  signedItemText,
  signedText,
  snapshotListField,
  verifyText,
  withoutSignatures,
} from "@meridian/shared/protocol/signing";

export type { SignatureReason } from "@meridian/shared/protocol/signing";

/** One refusal: the reason, a message for humans, and the object it names when one can be read. */
export interface SignatureRefusal {
  reason: SignatureReason;
  message: string;
  /** The workspace id or deployment name the event (item) names, as read from the unverified data. */
  key?: string;
  generation?: number;
  /** For a snapshot item: its position in the list. */
  index?: number;
}

export type Verdict =
  /** The event may be parsed; `items` holds the refusals of single snapshot items, by the item's key or index. */
  { ok: true; items: SignatureRefusal[] } | { ok: false; refusal: SignatureRefusal };

/** The pinned keys by key id. */
export class PinnedKeys {
  readonly #byId = new Map<string, KeyObject>();

  constructor(keys: readonly KeyObject[]) {
    for (const k of keys) this.#byId.set(keyIdOf(k), k);
  }

  get size(): number {
    return this.#byId.size;
  }

  ids(): string[] {
    return [...this.#byId.keys()];
  }

  get(keyId: string): KeyObject | undefined {
    return this.#byId.get(keyId);
  }

  /** Each key as the base64 of its 32 raw bytes: how the agent hands them to the workspace agents. */
  texts(): string[] {
    return [...this.#byId.values()].map(publicKeyText);
  }
}

export class EventVerifier {
  readonly #keys: PinnedKeys;
  readonly #stream: string;
  /** The newest event accepted on this stream: its control-plane epoch (0: none named) and id. */
  #newest: { epoch: number; id: bigint } | undefined;

  constructor(keys: PinnedKeys, stream: string) {
    if (keys.size === 0) throw new Error("an event verifier needs at least one pinned key");
    this.#keys = keys;
    this.#stream = stream;
  }

  /** The newest event accepted on this stream (its epoch and id), what a restart must not forget. */
  get newest(): { epoch: number; id: bigint } | undefined {
    return this.#newest;
  }

  /** Raises the newest to `mark` (read back after a restart) unless a newer one was accepted already. */
  remember(mark: { epoch: number; id: bigint }): void {
    const cur = this.#newest;
    if (!cur || mark.epoch > cur.epoch || (mark.epoch === cur.epoch && mark.id > cur.id)) this.#newest = mark;
  }

  /** Sets the newest back to `mark`: the events accepted after it were dropped unapplied (MarkGate). */
  rewind(mark: { epoch: number; id: bigint }): void {
    this.#newest = mark;
  }

  /**
   * Checks one event whose data is already parsed JSON (`id`: its decimal SSE id). Data that is not an
   * object is left to the schema, which refuses it with its own reason.
   */
  check(type: string, id: string, data: unknown): Verdict {
    if (typeof data !== "object" || data === null || Array.isArray(data)) return { ok: true, items: [] };
    const d = data as Record<string, unknown>;
    const at = { stream: this.#stream, type, id };
    const subject = subjectOf(type, d);
    const refuse = (reason: SignatureReason, what: string): Verdict => ({
      ok: false,
      refusal: { reason, message: `${subject.label}: ${what}`, ...subject.object },
    });
    const list = type === "snapshot" ? snapshotListField(d) : undefined;
    const text = canonical(() => signedText(at, list ? envelopeData(d) : withoutSignatures(d)));
    if (text === undefined)
      return refuse("SignatureInvalid", "its data has no canonical form (a number JSON cannot hold)");
    const bad = this.#checkSignature(d[SIGNATURE_MEMBER], text);
    if (bad) return refuse(bad.reason, bad.what);
    const replay = this.#replay(type, BigInt(id), epochOf(d));
    if (replay) return refuse("ReplayedEvent", replay);
    if (!list) return { ok: true, items: [] };
    const items = d[list] as unknown[];
    const sigs = Array.isArray(d[ITEM_SIGNATURES_MEMBER]) ? (d[ITEM_SIGNATURES_MEMBER] as unknown[]) : [];
    const refused: SignatureRefusal[] = [];
    items.forEach((item, index) => {
      const s = sigs[index] as Partial<Signature> | undefined;
      const itemText = canonical(() => signedItemText(at, item));
      const itemBad =
        itemText === undefined
          ? {
              reason: "SignatureInvalid" as const,
              what: "it has no canonical form (a number JSON cannot hold)",
            }
          : this.#checkSignature(s, itemText);
      if (!itemBad) return;
      const object = itemObject(list, item);
      const label = object.key === undefined ? `${list}.${index}` : `${list}.${index} (${object.key})`;
      refused.push({ reason: itemBad.reason, message: `${label}: ${itemBad.what}`, index, ...object });
    });
    return { ok: true, items: refused };
  }

  /**
   * Why an event is a replay (undefined: it is not, and it becomes the newest). Ids compare within
   * one control-plane epoch; a newer epoch (a control plane that lost its data, issue 15) starts its
   * ids again, an older one is the past. A snapshot restarts the sequence at the head, which may
   * equal the newest delta's id.
   */
  #replay(type: string, id: bigint, epoch: number): string | undefined {
    const cur = this.#newest;
    if (cur && epoch > 0 && epoch < cur.epoch)
      return `event ${id} is validly signed but from control-plane epoch ${epoch}, older than epoch ${cur.epoch} already accepted on this stream (a replay)`;
    if (cur && epoch <= cur.epoch && (type === "snapshot" ? id < cur.id : id <= cur.id))
      return `event ${id} is validly signed but not newer than event ${cur.id}, already accepted on this stream (a replay)`;
    this.#newest =
      !cur || epoch > cur.epoch ? { epoch, id } : { epoch: cur.epoch, id: id > cur.id ? id : cur.id };
    return undefined;
  }

  #checkSignature(s: unknown, text: string): { reason: SignatureReason; what: string } | undefined {
    if (s === undefined || s === null)
      return {
        reason: "SignatureMissing",
        what: "unsigned, and this agent verifies every event (signing keys are pinned)",
      };
    const { keyId, sig } = s as Partial<Signature>;
    if (typeof s !== "object" || typeof keyId !== "string" || typeof sig !== "string")
      return { reason: "SignatureInvalid", what: "its signature is not an object with keyId and sig" };
    const key = this.#keys.get(keyId);
    if (!key)
      return {
        reason: "UnknownSigningKey",
        what: `signed with key ${JSON.stringify(keyId.slice(0, 32))}, which is not pinned (pinned: ${this.#keys.ids().join(", ")}); pin the control plane's current public key (Helm value controlPlane.signingPublicKeys)`,
      };
    if (!verifyText(key, text, sig))
      return { reason: "SignatureInvalid", what: `its signature by key ${keyId} does not match its content` };
    return undefined;
  }
}

interface ObjectRef {
  key?: string;
  generation?: number;
}

/** What an event is about, read from its (not yet trusted) data: for the reason and the status entry. */
function subjectOf(type: string, d: Record<string, unknown>): { label: string; object: ObjectRef } {
  const nested = type === "workspace.upsert" ? d.workspace : type === "deployment.upsert" ? d.deployment : d;
  const object =
    type === "workspace.upsert" || type === "workspace.delete"
      ? itemObject("workspaces", nested)
      : type === "deployment.upsert" || type === "deployment.delete"
        ? itemObject("deployments", nested)
        : {};
  const label = object.key === undefined ? `event "${type}"` : `event "${type}" (${object.key})`;
  return { label, object };
}

function itemObject(list: string, item: unknown): ObjectRef {
  if (typeof item !== "object" || item === null) return {};
  const o = item as Record<string, unknown>;
  const key = list === "workspaces" ? o.id : o.name;
  const out: ObjectRef = {};
  if (typeof key === "string" && /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(key)) out.key = key;
  if (Number.isSafeInteger(o.generation)) out.generation = o.generation as number;
  return out;
}

/** The newest control-plane epoch an event names (its own, its spec's or its items'); 0: none. */
function epochOf(d: Record<string, unknown>): number {
  const candidates: unknown[] = [d, d.workspace, d.deployment];
  for (const list of [d.workspaces, d.deployments]) if (Array.isArray(list)) candidates.push(...list);
  let max = 0;
  for (const c of candidates) {
    const e = typeof c === "object" && c !== null ? (c as { epoch?: unknown }).epoch : undefined;
    if (Number.isSafeInteger(e) && (e as number) > max) max = e as number;
  }
  return max;
}

/** The canonical text, or undefined when the data cannot have one (JSON.parse turns 1e400 into Infinity). */
function canonical(text: () => string): string | undefined {
  try {
    return text();
  } catch {
    return undefined;
  }
}
