// The agent's desired state: what the control plane wants, which workspaces it asked to delete,
// whether a snapshot has arrived. Pure bookkeeping: apply() takes one validated stream event and
// returns a DesiredChange (shared/src/controller/desired-change.ts), the keys the process hands to
// its controller. Nothing here deletes: a workspace absent from a snapshot only becomes an orphan
// candidate, and only an explicit workspace.delete marks one for deletion.
//
// Generations only move forward: a spec (or a delete naming a generation) older than the generation
// held — the newest accepted in this session, or the one recorded on the workspace's namespace,
// which survives restarts — is refused and changes nothing. A snapshot item that was refused (invalid,
// listed twice, or stale) keeps what the agent holds for it and is never taken for absent; a snapshot
// with an item whose id cannot be read orphans nothing at all (shared/src/controller/desired.ts,
// docs/decisions.md 23 and 24).
import { Generations, planSnapshot, type Rejection } from "@meridian/shared/controller/desired";
import { type DesiredChange, noChange, snapshotChange } from "@meridian/shared/controller/desired-change";
import { type Held, heldOf } from "@meridian/shared/controller/epoch";
import type { AgentEvent, WorkspaceSpec } from "@meridian/shared/protocol/index";

/** What the cluster remembers across restarts. */
export interface ClusterMemory {
  /** Workspace ids that have a namespace in the cluster. */
  ids(): readonly string[];
  /** The generation (with its epoch and spec digest) last applied to a workspace's objects, if recorded. */
  generation(id: string): number | Held | undefined;
}

export class DesiredState {
  readonly #specs = new Map<string, WorkspaceSpec>();
  readonly #deleting = new Set<string>();
  /** The newest generation accepted per workspace in this session (specs and deletes). */
  readonly #generations = new Generations("workspace", "the agent");
  #rejections = new Map<string, Rejection>();
  #snapshotSeen = false;
  #ambiguous = false;

  /** False until the first snapshot of this session: until then nothing destructive happens. */
  get snapshotSeen(): boolean {
    return this.#snapshotSeen;
  }

  /**
   * The latest snapshot had an item whose id could not be read: it might be any workspace, so no
   * orphan is deleted until a snapshot can be read in full (or an explicit delete arrives).
   */
  get ambiguous(): boolean {
    return this.#ambiguous;
  }

  get(id: string): WorkspaceSpec | undefined {
    return this.#specs.get(id);
  }

  ids(): string[] {
    return [...this.#specs.keys()];
  }

  get size(): number {
    return this.#specs.size;
  }

  isDeleting(id: string): boolean {
    return this.#deleting.has(id);
  }

  deletingIds(): string[] {
    return [...this.#deleting];
  }

  /** Why the latest spec for `id` was refused, until a spec for it is accepted. */
  rejection(id: string): Rejection | undefined {
    return this.#rejections.get(id);
  }

  rejectedIds(): string[] {
    return [...this.#rejections.keys()];
  }

  /** The namespace is gone: the delete is complete, and the workspace forgotten. */
  finishDeleting(id: string): void {
    this.#deleting.delete(id);
    this.#generations.forget(id);
    this.#rejections.delete(id);
  }

  /** Starts deleting a workspace the agent decided to delete itself (an orphan past its grace). */
  markDeleting(id: string): void {
    this.#specs.delete(id);
    this.#deleting.add(id);
  }

  /** Applies one validated stream event against what the cluster remembers. */
  apply(event: AgentEvent, cluster: ClusterMemory): DesiredChange {
    switch (event.type) {
      case "snapshot":
        return this.#snapshot(event.data, cluster);
      case "workspace.upsert": {
        const spec = event.data.workspace;
        const stale = this.#generations.check(spec.id, heldOf(spec), "spec", cluster.generation(spec.id));
        if (stale) return this.refuse(spec.id, stale);
        const epochChanges = this.#accept(spec, cluster);
        return {
          ...noChange(),
          changed: [spec.id],
          adopted: [spec.id],
          rejectionChanged: [spec.id],
          epochChanges,
        };
      }
      case "workspace.delete": {
        const { id, generation } = event.data;
        const stamp = generation === undefined ? undefined : { epoch: event.data.epoch ?? 0, generation };
        const stale =
          stamp === undefined
            ? undefined
            : this.#generations.check(id, stamp, "delete", cluster.generation(id));
        if (stale) return this.refuse(id, stale);
        if (stamp !== undefined) this.#generations.raise(id, stamp);
        this.#specs.delete(id);
        this.#deleting.add(id);
        this.#rejections.delete(id);
        return { ...noChange(), changed: [id], rejectionChanged: [id] };
      }
    }
  }

  #snapshot(data: Extract<AgentEvent, { type: "snapshot" }>["data"], cluster: ClusterMemory): DesiredChange {
    const plan = planSnapshot({
      items: data.workspaces,
      refused: data.refused,
      key: (w) => w.id,
      stale: (w) => this.#generations.check(w.id, heldOf(w), "spec", cluster.generation(w.id)),
      previous: this.#specs,
    });
    const before = {
      keys: [...this.#specs.keys(), ...cluster.ids()],
      rejected: [...this.#rejections.keys()],
      deleting: (id: string) => this.#deleting.has(id),
    };
    this.#specs.clear();
    for (const [id, spec] of plan.specs) this.#specs.set(id, spec);
    const epochChanges = plan.accepted.flatMap((spec) => this.#accept(spec, cluster));
    this.#rejections = plan.rejections;
    this.#snapshotSeen = true;
    this.#ambiguous = plan.ambiguous;
    return { ...snapshotChange(plan, (w) => w.id, before), epochChanges };
  }

  /** Takes `spec` as desired; says so when it moves the workspace into a newer control-plane epoch. */
  #accept(spec: WorkspaceSpec, cluster: ClusterMemory): string[] {
    const stamp = heldOf(spec);
    const epochChange = this.#generations.epochChange(spec.id, stamp, cluster.generation(spec.id));
    this.#specs.set(spec.id, spec);
    this.#deleting.delete(spec.id);
    this.#rejections.delete(spec.id);
    this.#generations.raise(spec.id, stamp);
    return epochChange ? [epochChange] : [];
  }

  /** Refuses the latest spec for `key` (a stale generation, or an event whose signature was refused). */
  refuse(id: string, rejection: Rejection): DesiredChange {
    this.#rejections.set(id, rejection);
    return { ...noChange(), refusals: [rejection.message], rejectionChanged: [id] };
  }
}
