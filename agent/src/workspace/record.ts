import type { DrainProgress } from "./drain.ts";

// The one record the agent keeps per workspace while it leads: what the last reconcile found (the
// generation acted on, alignment, refusals, conflicts, errors, the credential), the orphan state,
// and how long a Deleted entry is still reported. reconcile.ts writes it; status is read from it
// (workspaces.ts). Everything else — queue, timers, retries — is the shared Controller's.

export interface WorkspaceRecord {
  observedGeneration: number;
  appliedGeneration?: number;
  aligned: boolean;
  violations?: string[];
  /** The refusal last logged (generation and violations), so a resync does not log it again. */
  loggedViolation?: string;
  /** Objects in the way that are not Meridian's (the spec was not applied), one message each. */
  conflicts?: string[];
  loggedConflict?: string;
  /** The last reconcile failed (set by the controller's run observer, cleared by an apply). */
  error?: { reason: string; message: string };
  credentialError?: string;
  /** Consecutive failed mints: the credential's own back-off (a workspace without one still applies). */
  credentialFailures: number;
  /** Missing from a snapshot (and not deleted explicitly): the orphan rule applies. */
  orphanCandidate: boolean;
  /** The orphan mark read from (or written onto) its namespace, and when the grace period ends. */
  orphan?: { since: string; deleteAtMs: number };
  /** Deleting: how its Flink deployments drain, and the final state each keeps (drain.ts). */
  drain?: DrainProgress;
  /** Reported as Deleted; dropped after this many more successful status sends. */
  deletedReportsLeft?: number;
}

/** The records by workspace id; a record exists once there is something to remember. */
export class WorkspaceRecords {
  readonly #records = new Map<string, WorkspaceRecord>();

  get(id: string): WorkspaceRecord | undefined {
    return this.#records.get(id);
  }

  /** The record of `id`, created empty if there is none. */
  ensure(id: string): WorkspaceRecord {
    let r = this.#records.get(id);
    if (!r) {
      r = { observedGeneration: 0, aligned: false, credentialFailures: 0, orphanCandidate: false };
      this.#records.set(id, r);
    }
    return r;
  }

  delete(id: string): void {
    this.#records.delete(id);
  }

  ids(): string[] {
    return [...this.#records.keys()];
  }

  entries(): IterableIterator<[string, WorkspaceRecord]> {
    return this.#records.entries();
  }
}
