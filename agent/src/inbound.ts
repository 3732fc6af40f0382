// Stream events → desired state. Pure bookkeeping: what the control plane wants, which workspaces
// it asked to delete, whether a snapshot has arrived. The controller decides what to reconcile from
// the returned effects. Nothing here deletes: a workspace absent from a snapshot only becomes an
// orphan candidate, and only an explicit workspace.delete marks one for deletion.
//
// Generations only move forward: a spec (or a delete naming a generation) older than the generation
// held — the newest accepted in this session, or the one recorded on the workspace's namespace,
// which survives restarts — is refused and changes nothing. A snapshot item that was refused (invalid,
// listed twice, or stale) keeps what the agent holds for it and is never taken for absent; a snapshot
// with an item whose id cannot be read orphans nothing at all (docs/decisions.md).
import type { AgentEvent, WorkspaceSpec } from "@meridian/shared/protocol/index";

/** What the cluster remembers across restarts. */
export interface ClusterMemory {
  /** Workspace ids that have a namespace in the cluster. */
  ids(): readonly string[];
  /** The generation last applied to a workspace's objects, if recorded. */
  generation(id: string): number | undefined;
}

/** Why the latest spec received for a workspace was not accepted (reported in its status). */
export interface Rejection {
  reason: "InvalidSpec" | "StaleGeneration";
  message: string;
}

export interface InboundEffects {
  /** Workspaces to reconcile now. */
  reconcile: string[];
  /** Present before (desired or in the cluster) but missing from this snapshot. */
  orphanCandidates: string[];
  /** Listed again (or upserted), possibly with a refused spec: any orphan mark is cancelled. */
  adopted: string[];
  /** Refusals decided here (a generation older than the one held), for rejectedEvents. */
  refusals: string[];
  /** Workspaces whose rejection (see `rejection()`) was set or cleared. */
  rejectionChanged: string[];
}

const none = (): InboundEffects => ({
  reconcile: [],
  orphanCandidates: [],
  adopted: [],
  refusals: [],
  rejectionChanged: [],
});

export class DesiredState {
  readonly #specs = new Map<string, WorkspaceSpec>();
  readonly #deleting = new Set<string>();
  /** The newest generation accepted per workspace in this session (specs and deletes). */
  readonly #generations = new Map<string, number>();
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
    this.#generations.delete(id);
    this.#rejections.delete(id);
  }

  /** Starts deleting a workspace the agent decided to delete itself (an orphan past its grace). */
  markDeleting(id: string): void {
    this.#specs.delete(id);
    this.#deleting.add(id);
  }

  /** Applies one validated stream event against what the cluster remembers. */
  apply(event: AgentEvent, cluster: ClusterMemory): InboundEffects {
    switch (event.type) {
      case "snapshot":
        return this.#snapshot(event.data, cluster);
      case "workspace.upsert": {
        const spec = event.data.workspace;
        const stale = this.#stale(spec.id, spec.generation, "spec", cluster);
        if (stale) return this.#refuse(spec.id, stale);
        this.#accept(spec);
        return { ...none(), reconcile: [spec.id], adopted: [spec.id], rejectionChanged: [spec.id] };
      }
      case "workspace.delete": {
        const { id, generation } = event.data;
        const stale = generation === undefined ? undefined : this.#stale(id, generation, "delete", cluster);
        if (stale) return this.#refuse(id, stale);
        if (generation !== undefined) this.#raise(id, generation);
        this.#specs.delete(id);
        this.#deleting.add(id);
        this.#rejections.delete(id);
        return { ...none(), reconcile: [id], rejectionChanged: [id] };
      }
    }
  }

  #snapshot(data: Extract<AgentEvent, { type: "snapshot" }>["data"], cluster: ClusterMemory): InboundEffects {
    const effects = none();
    const rejections = new Map<string, Rejection>();
    for (const item of data.refused)
      if (item.key !== undefined) rejections.set(item.key, { reason: "InvalidSpec", message: item.error });
    const accepted: WorkspaceSpec[] = [];
    for (const spec of data.workspaces) {
      const stale = this.#stale(spec.id, spec.generation, "spec", cluster);
      if (stale) {
        rejections.set(spec.id, stale);
        effects.refusals.push(stale.message);
      } else accepted.push(spec);
    }
    const ambiguous = data.refused.some((item) => item.key === undefined);
    const previous = new Map(this.#specs);
    const wasRejected = [...this.#rejections.keys()];
    const before = new Set([...previous.keys(), ...cluster.ids()]);
    this.#specs.clear();
    for (const spec of accepted) this.#accept(spec);
    // A refused item keeps the spec held for it; an ambiguous snapshot keeps every unlisted one.
    for (const [id, spec] of previous)
      if (!this.#specs.has(id) && (rejections.has(id) || ambiguous)) this.#specs.set(id, spec);
    this.#snapshotSeen = true;
    this.#ambiguous = ambiguous;
    const listed = new Set([...accepted.map((s) => s.id), ...rejections.keys()]);
    effects.rejectionChanged = [...new Set([...wasRejected, ...rejections.keys()])];
    this.#rejections = rejections;
    effects.reconcile = accepted.map((s) => s.id);
    effects.adopted = [...listed];
    if (!ambiguous)
      effects.orphanCandidates = [...before].filter((id) => !listed.has(id) && !this.#deleting.has(id));
    return effects;
  }

  #accept(spec: WorkspaceSpec): void {
    this.#specs.set(spec.id, spec);
    this.#deleting.delete(spec.id);
    this.#rejections.delete(spec.id);
    this.#raise(spec.id, spec.generation);
  }

  #raise(id: string, generation: number): void {
    if (generation > (this.#generations.get(id) ?? 0)) this.#generations.set(id, generation);
  }

  /** A rejection if `generation` is older than the one held for `id`; equal is a harmless re-apply. */
  #stale(
    id: string,
    generation: number,
    what: "spec" | "delete",
    cluster: ClusterMemory,
  ): Rejection | undefined {
    const held = Math.max(this.#generations.get(id) ?? 0, cluster.generation(id) ?? 0);
    if (generation >= held) return undefined;
    const subject = what === "spec" ? `spec generation ${generation}` : `delete of generation ${generation}`;
    return {
      reason: "StaleGeneration",
      message: `workspace ${id}: ${subject} is older than generation ${held}, which the agent already holds; ignored (generations only move forward)`,
    };
  }

  #refuse(id: string, rejection: Rejection): InboundEffects {
    this.#rejections.set(id, rejection);
    return { ...none(), refusals: [rejection.message], rejectionChanged: [id] };
  }
}
