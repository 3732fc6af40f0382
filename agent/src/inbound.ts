// Stream events → desired state. Pure bookkeeping: what the control plane wants, which workspaces
// it asked to delete, whether a snapshot has arrived. The controller decides what to reconcile from
// the returned effects. Nothing here deletes: a workspace absent from a snapshot only becomes an
// orphan candidate, and only an explicit workspace.delete marks one for deletion.
import type { AgentEvent, WorkspaceSpec } from "@meridian/shared/protocol/index";

export interface InboundEffects {
  /** Workspaces to reconcile now. */
  reconcile: string[];
  /** Present before (desired or in the cluster) but missing from this snapshot. */
  orphanCandidates: string[];
  /** Listed again (or upserted): any orphan mark is cancelled. */
  adopted: string[];
}

export class DesiredState {
  readonly #specs = new Map<string, WorkspaceSpec>();
  readonly #deleting = new Set<string>();
  #snapshotSeen = false;

  /** False until the first snapshot of this session: until then nothing destructive happens. */
  get snapshotSeen(): boolean {
    return this.#snapshotSeen;
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

  /** The namespace is gone: the delete is complete. */
  finishDeleting(id: string): void {
    this.#deleting.delete(id);
  }

  /** Starts deleting a workspace the agent decided to delete itself (an orphan past its grace). */
  markDeleting(id: string): void {
    this.#specs.delete(id);
    this.#deleting.add(id);
  }

  /**
   * Applies one validated stream event. `inCluster` lists the workspace ids that have a namespace
   * in the cluster (the cluster is the memory of what was created before a restart).
   */
  apply(event: AgentEvent, inCluster: readonly string[]): InboundEffects {
    switch (event.type) {
      case "snapshot": {
        const listed = new Map(event.data.workspaces.map((w) => [w.id, w]));
        const before = new Set([...this.#specs.keys(), ...inCluster]);
        this.#specs.clear();
        for (const [id, spec] of listed) {
          this.#specs.set(id, spec);
          this.#deleting.delete(id);
        }
        this.#snapshotSeen = true;
        const orphanCandidates = [...before].filter((id) => !listed.has(id) && !this.#deleting.has(id));
        return { reconcile: [...listed.keys()], orphanCandidates, adopted: [...listed.keys()] };
      }
      case "workspace.upsert": {
        const spec = event.data.workspace;
        this.#specs.set(spec.id, spec);
        this.#deleting.delete(spec.id);
        return { reconcile: [spec.id], orphanCandidates: [], adopted: [spec.id] };
      }
      case "workspace.delete": {
        const id = event.data.id;
        this.#specs.delete(id);
        this.#deleting.add(id);
        return { reconcile: [id], orphanCandidates: [], adopted: [] };
      }
    }
  }
}
