// What the control plane wants, as last told: the desired spec per Flink deployment, the explicit
// deletions, and whether a snapshot has arrived at all (before it, nothing is orphaned and no new
// operation starts: the agent keeps what runs). Inbound writes it; the controller reads it.
import type { DeploymentSpec } from "@meridian/shared/protocol/index";

export type DesiredEntry =
  | { kind: "spec"; spec: DeploymentSpec }
  | { kind: "deleted" }
  /** Not in the latest snapshot, never deleted explicitly: kept running, reported Orphaned. */
  | { kind: "orphaned" }
  /** No snapshot yet: nothing is known. */
  | { kind: "unknown" };

export class DesiredStore {
  readonly #specs = new Map<string, DeploymentSpec>();
  readonly #deleted = new Set<string>();
  readonly #listeners = new Set<(name: string) => void>();
  #snapshotSeen = false;

  get snapshotSeen(): boolean {
    return this.#snapshotSeen;
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
    return this.#snapshotSeen ? { kind: "orphaned" } : { kind: "unknown" };
  }

  /** Names with a spec or a pending deletion. */
  names(): string[] {
    return [...new Set([...this.#specs.keys(), ...this.#deleted])];
  }

  /** A full snapshot: what it lists is desired; what it does not list is orphaned, never deleted. */
  snapshot(specs: DeploymentSpec[]): void {
    const before = new Set([...this.#specs.keys()]);
    this.#snapshotSeen = true;
    this.#specs.clear();
    for (const s of specs) {
      this.#specs.set(s.name, s);
      this.#deleted.delete(s.name);
    }
    for (const name of new Set([...before, ...this.#specs.keys()])) this.#emit(name);
  }

  upsert(spec: DeploymentSpec): void {
    this.#specs.set(spec.name, spec);
    this.#deleted.delete(spec.name);
    this.#emit(spec.name);
  }

  delete(name: string): void {
    this.#specs.delete(name);
    this.#deleted.add(name);
    this.#emit(name);
  }

  /** The deletion finished: forget it (a later upsert of the same name is a new deployment). */
  forget(name: string): void {
    this.#deleted.delete(name);
  }

  #emit(name: string): void {
    for (const l of this.#listeners) l(name);
  }
}
