// What the control plane wants, as last told: the desired spec per Flink deployment, the explicit
// deletions, and whether a snapshot has arrived at all (before it, nothing is orphaned and no new
// operation starts: the agent keeps what runs). Inbound writes it; each write returns a
// DesiredChange (shared/src/controller/desired-change.ts), the keys the process hands to its
// controller, as the agent's desired state does. The controller reads it.
//
// Generations only move forward: a spec (or a delete naming a generation) older than the generation
// held — the newest accepted in this session, or the one in the deployment's persisted lifecycle
// state, which survives restarts — is refused and changes nothing. A refused snapshot item (invalid,
// listed twice, or stale) keeps what is held for it and is never taken for absent; a snapshot with
// an item whose name cannot be read orphans nothing (shared/src/controller/desired.ts, docs/decisions.md
// 23 and 24).
import { Generations, planSnapshot, type Rejection } from "@meridian/shared/controller/desired";
import { type DesiredChange, noChange, snapshotChange } from "@meridian/shared/controller/desired-change";
import { type Held, heldOf } from "@meridian/shared/controller/epoch";
import type { ReplayMark } from "@meridian/shared/controlplane/replay-mark";
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

export interface DesiredStoreOptions {
  /** The generation (with epoch and digest) the cluster holds for a deployment (its persisted lifecycle state), if any. */
  clusterGeneration?: (name: string) => number | Held | undefined;
  /** The deployments the cluster holds objects of (orphan candidates when a snapshot omits them). */
  clusterNames?: () => Iterable<string>;
}

export class DesiredStore {
  readonly #specs = new Map<string, DeploymentSpec>();
  readonly #deleted = new Set<string>();
  /** The stream event that created each deployment this session (upsert of one not held). */
  readonly #creationMarks = new Map<string, ReplayMark>();
  /** The newest generation accepted per deployment in this session (specs and deletes). */
  readonly #generations = new Generations("deployment", "the workspace agent");
  #rejections = new Map<string, Rejection>();
  /** Listed by the latest snapshot with a refused spec and no spec held. */
  #held = new Set<string>();
  readonly #clusterGeneration: (name: string) => number | Held | undefined;
  readonly #clusterNames: () => Iterable<string>;
  #snapshotSeen = false;
  #ambiguous = false;
  /** The whole workspace is being deleted (the agent's mark): every deployment is deleted. */
  #workspaceDeleting = false;

  constructor(opts: DesiredStoreOptions = {}) {
    this.#clusterGeneration = opts.clusterGeneration ?? (() => undefined);
    this.#clusterNames = opts.clusterNames ?? (() => []);
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

  get(name: string): DesiredEntry {
    if (this.#workspaceDeleting || this.#deleted.has(name)) return { kind: "deleted" };
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
   * The change's refusals are those decided here (generations older than the one held).
   */
  snapshot(data: { deployments: DeploymentSpec[]; refused: RefusedItem[] }): DesiredChange {
    const plan = planSnapshot({
      items: data.deployments,
      refused: data.refused,
      key: (d) => d.name,
      stale: (d) => this.#stale(d.name, heldOf(d), "spec"),
      previous: this.#specs,
    });
    const before = {
      keys: [...this.#specs.keys(), ...this.#held, ...this.#clusterNames()],
      rejected: [...this.#rejections.keys()],
      deleting: (name: string) => this.#deleted.has(name),
    };
    this.#specs.clear();
    for (const [name, spec] of plan.specs) this.#specs.set(name, spec);
    const epochChanges = plan.accepted.flatMap((spec) => this.#accept(spec));
    this.#rejections = plan.rejections;
    this.#held = new Set([...plan.rejections.keys()].filter((name) => !this.#specs.has(name)));
    this.#snapshotSeen = true;
    this.#ambiguous = plan.ambiguous;
    return { ...snapshotChange(plan, (d) => d.name, before), epochChanges };
  }

  /**
   * Refused (nothing else changes) if `spec` is older than the generation held. `creationMark`: the
   * stream event that carried it, when it creates the deployment; its ConfigMap is created carrying
   * that mark, so the creation needs no write of the stream mark before it (decision 50).
   */
  upsert(spec: DeploymentSpec, creationMark?: ReplayMark): DesiredChange {
    const stale = this.#stale(spec.name, heldOf(spec), "spec");
    if (stale) return this.refuse(spec.name, stale);
    if (creationMark) this.#creationMarks.set(spec.name, creationMark);
    const epochChanges = this.#accept(spec);
    const name = spec.name;
    return { ...noChange(), changed: [name], adopted: [name], rejectionChanged: [name], epochChanges };
  }

  /** Refused (nothing else changes) if the delete names a generation older than the one held. */
  delete(name: string, generation?: number, epoch?: number): DesiredChange {
    const stamp = generation === undefined ? undefined : { epoch: epoch ?? 0, generation };
    const stale = stamp === undefined ? undefined : this.#stale(name, stamp, "delete");
    if (stale) return this.refuse(name, stale);
    if (stamp !== undefined) this.#generations.raise(name, stamp);
    this.#specs.delete(name);
    this.#held.delete(name);
    this.#rejections.delete(name);
    this.#deleted.add(name);
    return { ...noChange(), changed: [name], rejectionChanged: [name] };
  }

  /**
   * The agent is deleting the workspace: from now on every deployment — desired, orphaned, held or
   * never heard of — goes through its own delete path (stop-with-savepoint where its upgrade mode
   * keeps state), and no spec makes one run again. `known`: the deployments with objects now.
   */
  deleteWorkspace(known: Iterable<string>): DesiredChange {
    this.#workspaceDeleting = true;
    const names = [...new Set([...this.#specs.keys(), ...known])];
    return { ...noChange(), changed: names };
  }

  get workspaceDeleting(): boolean {
    return this.#workspaceDeleting;
  }

  /** The newest stream event that created `name` in this session (decision 50), if any. */
  creationMark(name: string): ReplayMark | undefined {
    return this.#creationMarks.get(name);
  }

  /** The deletion finished: forget it (a later upsert of the same name is a new deployment). */
  forget(name: string): void {
    this.#creationMarks.delete(name);
    this.#deleted.delete(name);
    this.#generations.forget(name);
  }

  /** Takes `spec` as desired; says so when it moves the deployment into a newer control-plane epoch. */
  #accept(spec: DeploymentSpec): string[] {
    const stamp = heldOf(spec);
    const epochChange = this.#generations.epochChange(spec.name, stamp, this.#clusterGeneration(spec.name));
    this.#specs.set(spec.name, spec);
    this.#deleted.delete(spec.name);
    this.#held.delete(spec.name);
    this.#rejections.delete(spec.name);
    this.#generations.raise(spec.name, stamp);
    return epochChange ? [epochChange] : [];
  }

  #stale(name: string, stamp: Held, kind: "spec" | "delete"): Rejection | undefined {
    return this.#generations.check(name, stamp, kind, this.#clusterGeneration(name));
  }

  /** Refuses the latest spec for `key` (a stale generation, or an event whose signature was refused). */
  refuse(name: string, rejection: Rejection): DesiredChange {
    this.#rejections.set(name, rejection);
    return { ...noChange(), refusals: [rejection.message], rejectionChanged: [name] };
  }
}
