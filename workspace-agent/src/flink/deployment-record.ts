// What the workspace agent remembers about one Flink deployment between reconciles, in one record
// per deployment (as the agent's WorkspaceRecord per workspace). Everything that must survive a
// restart lives in the cluster instead (the lifecycle state and the orphan mark on the ConfigMap);
// this is only what saves work or noise: the last status (its conditions' transition times), pods
// just created, the ConfigMap as last written, and what was already reported once.
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { QuotaRefusal } from "@meridian/shared/kube/quota-refusal";
import type { DeploymentStatus } from "@meridian/shared/protocol/index";

export interface DeploymentRecord {
  /** The status last published (its conditions carry their lastTransitionTime forward). */
  status?: DeploymentStatus | undefined;
  /** Pods this agent created, by name, when; until the watch cache shows them (see CACHE_LAG_MS). */
  created: Map<string, number>;
  /** The run the pods were last planned for: a new run starts with a clean crash back-off. */
  runId?: number | undefined;
  /**
   * The orphan mark the ConfigMap carries (`meridian.dev/orphaned-since`), as read at the start of
   * this reconcile or as last written; every write of the ConfigMap carries it, so no write drops it.
   */
  orphanedSince?: string | undefined;
  /** A mark removal the API server did not carry out (the mark is another manager's): not retried. */
  foreignMark?: string | undefined;
  /** The ConfigMap as the last write returned it, until the watch cache has caught up. */
  written?: V1ConfigMap | undefined;
  /** The unreadable-state reason last reported, so it is logged and evented once. */
  unreadable?: string | undefined;
  /**
   * Why a new deployment was refused for a name someone else holds: until the name is free it is
   * looked at read-only (no create and remove on every reconcile).
   */
  nameTaken?: string | undefined;
  /** The policy refusal last reported, so it is logged and evented once. */
  refusal?: string | undefined;
  /**
   * A pod of the run the API server refused to create because the workspace's ResourceQuota is used
   * up, until every pod the run needs could be created (status says so: Ready=False QuotaExceeded).
   */
  quotaRefusal?: PodQuotaRefusal | undefined;
}

/** Which pod could not be created, and the quota's numbers as the API server gave them. */
export interface PodQuotaRefusal extends QuotaRefusal {
  pod: string;
}

export class DeploymentRecords {
  readonly #records = new Map<string, DeploymentRecord>();

  /** The deployment's record, created empty on first use. */
  get(name: string): DeploymentRecord {
    let r = this.#records.get(name);
    if (!r) {
      r = { created: new Map() };
      this.#records.set(name, r);
    }
    return r;
  }

  has(name: string): boolean {
    return this.#records.has(name);
  }

  /** The deployment is gone: a fresh record that keeps only the last status. */
  reset(name: string): DeploymentRecord {
    const status = this.#records.get(name)?.status;
    this.#records.delete(name);
    const r = this.get(name);
    r.status = status;
    return r;
  }

  /** Nothing of the deployment is desired, exists or is reported: forget it. */
  drop(name: string): void {
    this.#records.delete(name);
  }

  get size(): number {
    return this.#records.size;
  }
}
