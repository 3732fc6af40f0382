// Meridian never adopts what it did not create. Each object a Flink deployment needs (ConfigMap,
// JobManager Service, pods) is created with a create-only POST, which the API server refuses with
// AlreadyExists instead of taking over what holds the name (server-side apply with force would, and
// the ConfigMap's garbage collection would later delete it). Only then is the holder read: ours
// (labels app.kubernetes.io/managed-by=meridian-workspace-agent and meridian.dev/workspace=<id>; the
// watch cache lags) or someone else's, which refuses the deployment (NameTakenError). A deployment
// once refused is looked at again read-only (checkNew), so a refusal does not become a loop of
// writes. The watch caches are label-selected, so both ask the API server.
import { createObject, getObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { FIELD_MANAGER_WORKSPACE_AGENT, MANAGED_BY_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import { notOwnedReason } from "@meridian/shared/kube/ownership";
import {
  CONFIG_MAPS,
  type KubeObject,
  PODS,
  type ResourceType,
  SERVICES,
} from "@meridian/shared/kube/resources";
import { F, type Logger } from "@meridian/shared/log";
import { type DeploymentSpec, taskManagerReplicas } from "@meridian/shared/protocol/index";
import { names } from "./objects.ts";

/** A name the deployment needs is held by an object that is not ours: nothing of it was kept. */
export class NameTakenError extends Error {
  readonly refusal: { field: "name"; message: string };

  constructor(message: string) {
    super(message);
    this.name = "NameTakenError";
    this.refusal = { field: "name", message };
  }
}

export interface NameGuardOptions {
  client: KubeClient;
  namespace: string;
  workspaceId: string;
}

export class NameGuard {
  readonly #o: NameGuardOptions;
  /** The conflict last logged per deployment, so a Warning is logged once, not on every reconcile. */
  readonly #logged = new Map<string, string>();

  constructor(opts: NameGuardOptions) {
    this.#o = opts;
  }

  /**
   * Every object a new deployment would create (ConfigMap, JobManager Service and pod, TaskManager
   * pods): a refusal naming those that exist and are not ours, or undefined when none does.
   */
  async checkNew(spec: DeploymentSpec, log: Logger): Promise<{ field: string; message: string } | undefined> {
    const d = spec.name;
    const targets: [ResourceType, string][] = [
      [CONFIG_MAPS, names.configMap(d)],
      [SERVICES, names.service(d)],
      [PODS, names.jobManagerPod(d)],
    ];
    for (let i = 0; i < taskManagerReplicas(spec); i++) targets.push([PODS, names.taskManagerPod(d, i)]);
    const found = await Promise.all(targets.map(([type, name]) => this.#foreign(type, name, d)));
    const conflicts = found.filter((c): c is string => c !== undefined);
    this.#report(d, conflicts, log);
    return conflicts.length > 0 ? { field: "name", message: conflicts.join("; ") } : undefined;
  }

  /**
   * Creates `obj` (one of `deployment`'s objects) unless its name is taken. Taken by ours (the watch
   * cache has not caught up): `created` false with what is there. Taken by someone else's: throws
   * NameTakenError (logged once per deployment and reason, as checkNew logs).
   */
  async create<T extends KubeObject>(
    type: ResourceType,
    obj: T,
    deployment: string,
    log: Logger,
    opts: { signal: AbortSignal; priority: number },
  ): Promise<{ object: T; created: boolean }> {
    const name = obj.metadata?.name ?? "";
    const { client, namespace } = this.#o;
    // Twice at most: the holder may be deleted between the refused create and the read.
    for (let attempt = 0; ; attempt++) {
      const stored = await createObject(client, type, obj, {
        fieldManager: FIELD_MANAGER_WORKSPACE_AGENT,
        ...opts,
      });
      if (stored) return { object: stored, created: true };
      const holder = await getObject(client, type, namespace, name);
      if (holder === undefined && attempt === 0) continue;
      const conflict = holder && this.#conflict(type, holder, deployment);
      if (conflict) {
        this.#report(deployment, [conflict], log);
        throw new NameTakenError(conflict);
      }
      if (holder) return { object: holder as T, created: false };
      throw new Error(
        `${type.kind} ${namespace}/${name} exists and does not: it keeps being created and deleted; retrying`,
      );
    }
  }

  async #foreign(type: ResourceType, name: string, deployment: string): Promise<string | undefined> {
    const obj = await getObject(this.#o.client, type, this.#o.namespace, name);
    return obj && this.#conflict(type, obj, deployment);
  }

  /** Why `obj` may not be taken over for `deployment`, or undefined when it is ours. */
  #conflict(type: ResourceType, obj: KubeObject, deployment: string): string | undefined {
    const { namespace, workspaceId } = this.#o;
    const why = notOwnedReason(obj, MANAGED_BY_WORKSPACE_AGENT, workspaceId);
    if (!why) return undefined;
    return (
      `${type.kind} ${namespace}/${obj.metadata?.name ?? ""} already exists and is not Meridian's (${why}); nothing of ` +
      `Flink deployment ${deployment} was kept, and that ${type.kind} was not touched. To fix: give the deployment another name, ` +
      `or remove that ${type.kind}; if Meridian created it and only its labels were removed, put the labels back`
    );
  }

  #report(key: string, conflicts: string[], log: Logger): void {
    if (conflicts.length === 0) {
      this.#logged.delete(key);
      return;
    }
    const reason = conflicts.join("; ");
    if (this.#logged.get(key) === reason) return;
    this.#logged.set(key, reason);
    log.warn(
      { [F.reason]: reason },
      "an object Meridian needs exists and is not Meridian's; not adopting it",
    );
  }
}
