// Steady churn through the control plane's admin API: creates, updates and deletes in a fixed
// rotation at a fixed rate, so the population stays where the fill put it (±1). Which item is
// updated or deleted comes from a seeded generator, so a run can be repeated. Only the admin API is
// driven here; what was asked for is read back from the control plane's change log (journal.ts),
// not from this driver's memory.

/** How one kind of item (workspace, deployment) is created, changed and deleted. */
export interface ChurnTarget<B> {
  /** The body of a new item. */
  create(id: string): B;
  /** A body that differs from `current` (so the control plane logs a new generation). */
  update(current: B): B;
  /** Stores the body; resolves with the generation the control plane gave it. */
  put(id: string, body: B): Promise<number>;
  del(id: string): Promise<unknown>;
}

export type ChurnKind = "create" | "update" | "delete";

/** One admin call: when it was answered (ms since the epoch) and what it did. */
export interface ChurnOp {
  kind: ChurnKind;
  id: string;
  at: number;
  /** The generation a create or update got. */
  generation?: number;
}

const ROTATION: readonly ChurnKind[] = ["create", "update", "delete"];

export class Churn<B> {
  readonly #t: ChurnTarget<B>;
  readonly #prefix: string;
  readonly #random: () => number;
  #next = 0;
  /** Live items and their last body, as this driver asked for them. */
  readonly live = new Map<string, B>();
  readonly deleted = new Set<string>();
  readonly ops: ChurnOp[] = [];
  /** Hears every churn operation once the control plane answered it. */
  onOp: (op: ChurnOp) => void = () => {};

  constructor(target: ChurnTarget<B>, prefix: string, seed = 1) {
    this.#t = target;
    this.#prefix = prefix;
    this.#random = mulberry32(seed);
  }

  /** Creates `count` items, `concurrency` at a time (not counted as churn operations). */
  async fill(count: number, concurrency: number): Promise<void> {
    const ids = Array.from({ length: count }, () => this.#newId());
    for (let i = 0; i < ids.length; i += concurrency)
      await Promise.all(ids.slice(i, i + concurrency).map((id) => this.#create(id)));
  }

  /**
   * `perSecond` operations a second for `durationMs`, one at a time in the rotation create,
   * update, delete. An operation slower than its slot delays the next ones; the schedule does not
   * burst to catch up, so the achieved rate is reported by `ops`.
   */
  async run(durationMs: number, perSecond: number, signal?: AbortSignal): Promise<void> {
    const start = Date.now();
    const interval = 1000 / perSecond;
    for (let i = 0; Date.now() - start < durationMs && !signal?.aborted; i++) {
      const due = start + i * interval;
      const wait = Math.max(due, Date.now()) - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await this.step(ROTATION[i % ROTATION.length]!);
    }
  }

  async step(kind: ChurnKind): Promise<void> {
    if (kind === "create" || this.live.size === 0) return this.#create(this.#newId(), true);
    const ids = [...this.live.keys()];
    const id = ids[Math.floor(this.#random() * ids.length)]!;
    if (kind === "update") {
      const body = this.#t.update(this.live.get(id)!);
      const generation = await this.#t.put(id, body);
      this.live.set(id, body);
      this.#record({ kind, id, at: Date.now(), generation });
    } else {
      await this.#t.del(id);
      this.live.delete(id);
      this.deleted.add(id);
      this.#record({ kind, id, at: Date.now() });
    }
  }

  async #create(id: string, record = false): Promise<void> {
    const body = this.#t.create(id);
    const generation = await this.#t.put(id, body);
    this.live.set(id, body);
    if (record) this.#record({ kind: "create", id, at: Date.now(), generation });
  }

  #record(op: ChurnOp): void {
    this.ops.push(op);
    this.onOp(op);
  }

  #newId(): string {
    return `${this.#prefix}${this.#next++}`;
  }
}

/** A small seeded generator (mulberry32): the same seed, the same choices. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
