// What the control plane wants, as last told: the desired spec per Flink deployment, the explicit
// deletions, and whether a snapshot has arrived at all (before it, nothing is orphaned and no new
// operation starts: the agent keeps what runs). Inbound writes it; the controller reads it.
//
// Generations only move forward: a spec (or a delete naming a generation) older than the generation
// held — the newest accepted in this session, or the one in the deployment's persisted lifecycle
// state, which survives restarts — is refused and changes nothing. A refused snapshot item (invalid,
// listed twice, or stale) keeps what is held for it and is never taken for absent; a snapshot with
// an item whose name cannot be read orphans nothing (docs/decisions.md).
import type { DeploymentSpec, RefusedItem } from "@meridian/shared/protocol/index";

export type DesiredEntry =
  | { kind: "spec"; spec: DeploymentSpec }
  | { kind: "deleted" }
  /** Not in the latest snapshot, never deleted explicitly: kept running, reported Orphaned. */
  | { kind: "orphaned" }
  /** Listed by the latest snapshot, but its spec was refused and none was held: kept as it runs. */
  | { kind: "held" }
  /** No snapshot yet: nothing is known. */
  | { kind: "unknown" };

/** Why the latest spec received for a deployment was not accepted (reported in its status). */
export interface Rejection {
  reason: "InvalidSpec" | "StaleGeneration";
  message: string;
}

export interface DesiredStoreOptions {
  /** The generation the cluster holds for a deployment (its persisted lifecycle state), if any. */
  clusterGeneration?: (name: string) => number | undefined;
}

export class DesiredStore {
  readonly #specs = new Map<string, DeploymentSpec>();
  readonly #deleted = new Set<string>();
  /** The newest generation accepted per deployment in this session (specs and deletes). */
  readonly #generations = new Map<string, number>();
  #rejections = new Map<string, Rejection>();
  /** Listed by the latest snapshot with a refused spec and no spec held. */
  #held = new Set<string>();
  readonly #listeners = new Set<(name: string) => void>();
  readonly #clusterGeneration: (name: string) => number | undefined;
  #snapshotSeen = false;
  #ambiguous = false;

  constructor(opts: DesiredStoreOptions = {}) {
    this.#clusterGeneration = opts.clusterGeneration ?? (() => undefined);
  }

  get snapshotSeen(): boolean {
    return this.#snapshotSeen;
  }

  /**
   * The latest snapshot had an item whose name could not be read: it might be any deployment, so no
   * orphan is deleted until a snapshot can be read in full (or an explicit delete arrives).
   */
  get ambiguous(): boolean {
    return this.#ambiguous;
  }

  /** Calls `fn(name)` after every change to that deployment's desired state. */
  onChange(fn: (name: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  get(name: string): DesiredEntry {
    if (this.#deleted.has(name)) return { kind: "deleted" };
    const spec = this.#specs.get(name);
    if (spec) return { kind: "spec", spec };
    if (this.#held.has(name)) return { kind: "held" };
    return this.#snapshotSeen ? { kind: "orphaned" } : { kind: "unknown" };
  }

  /** Why the latest spec for `name` was refused, until a spec for it is accepted. */
  rejection(name: string): Rejection | undefined {
    return this.#rejections.get(name);
  }

  /** Names with a spec, a pending deletion or a refused spec. */
  names(): string[] {
    return [...new Set([...this.#specs.keys(), ...this.#deleted, ...this.#rejections.keys()])];
  }

  /**
   * A full snapshot: what it lists is desired; what it does not list is orphaned, never deleted.
   * Returns the refusals decided here (generations older than the one held), for rejectedEvents.
   */
  snapshot(data: { deployments: DeploymentSpec[]; refused: RefusedItem[] }): string[] {
    const refusals: string[] = [];
    const rejections = new Map<string, Rejection>();
    for (const item of data.refused)
      if (item.key !== undefined) rejections.set(item.key, { reason: "InvalidSpec", message: item.error });
    const accepted: DeploymentSpec[] = [];
    for (const spec of data.deployments) {
      const stale = this.#stale(spec.name, spec.generation, "spec");
      if (stale) {
        rejections.set(spec.name, stale);
        refusals.push(stale.message);
      } else accepted.push(spec);
    }
    const ambiguous = data.refused.some((item) => item.key === undefined);
    const previous = new Map(this.#specs);
    const touched = new Set([...previous.keys(), ...this.#rejections.keys(), ...this.#held]);
    this.#specs.clear();
    this.#held = new Set();
    this.#rejections = rejections;
    for (const spec of accepted) this.#accept(spec);
    // A refused item keeps the spec held for it; an ambiguous snapshot keeps every unlisted one.
    for (const [name, spec] of previous)
      if (!this.#specs.has(name) && (rejections.has(name) || ambiguous)) this.#specs.set(name, spec);
    for (const name of rejections.keys()) if (!this.#specs.has(name)) this.#held.add(name);
    this.#snapshotSeen = true;
    this.#ambiguous = ambiguous;
    for (const name of new Set([...touched, ...this.#specs.keys(), ...rejections.keys()])) this.#emit(name);
    return refusals;
  }

  /** Returns the refusal if `spec` is older than the generation held (nothing else changes then). */
  upsert(spec: DeploymentSpec): string | undefined {
    const stale = this.#stale(spec.name, spec.generation, "spec");
    if (stale) return this.#refuse(spec.name, stale);
    this.#accept(spec);
    this.#emit(spec.name);
    return undefined;
  }

  /** Returns the refusal if the delete names a generation older than the one held. */
  delete(name: string, generation?: number): string | undefined {
    const stale = generation === undefined ? undefined : this.#stale(name, generation, "delete");
    if (stale) return this.#refuse(name, stale);
    if (generation !== undefined) this.#raise(name, generation);
    this.#specs.delete(name);
    this.#held.delete(name);
    this.#rejections.delete(name);
    this.#deleted.add(name);
    this.#emit(name);
    return undefined;
  }

  /** The deletion finished: forget it (a later upsert of the same name is a new deployment). */
  forget(name: string): void {
    this.#deleted.delete(name);
    this.#generations.delete(name);
  }

  #accept(spec: DeploymentSpec): void {
    this.#specs.set(spec.name, spec);
    this.#deleted.delete(spec.name);
    this.#held.delete(spec.name);
    this.#rejections.delete(spec.name);
    this.#raise(spec.name, spec.generation);
  }

  #raise(name: string, generation: number): void {
    if (generation > (this.#generations.get(name) ?? 0)) this.#generations.set(name, generation);
  }

  /** A rejection if `generation` is older than the one held for `name`; equal is a harmless re-apply. */
  #stale(name: string, generation: number, what: "spec" | "delete"): Rejection | undefined {
    const held = Math.max(this.#generations.get(name) ?? 0, this.#clusterGeneration(name) ?? 0);
    if (generation >= held) return undefined;
    const subject = what === "spec" ? `spec generation ${generation}` : `delete of generation ${generation}`;
    return {
      reason: "StaleGeneration",
      message: `deployment ${name}: ${subject} is older than generation ${held}, which the workspace agent already holds; ignored (generations only move forward)`,
    };
  }

  #refuse(name: string, rejection: Rejection): string {
    this.#rejections.set(name, rejection);
    this.#emit(name);
    return rejection.message;
  }

  #emit(name: string): void {
    for (const l of this.#listeners) l(name);
  }
}
