// Meridian never adopts what it did not create: before a new Flink deployment's first write, and
// before the JobManager Service is created again, look at the names it would write in the workspace
// namespace. An object there that is not the workspace agent's for this workspace (labels
// app.kubernetes.io/managed-by=meridian-workspace-agent and meridian.dev/workspace=<id>) refuses the
// deployment: server-side apply would take it over, and the ConfigMap's garbage collection would
// later delete it. The watch caches are label-selected, so this asks the API server, and only when
// the cache has nothing of ours under that name (a new deployment, a deleted Service).
import { getObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { MANAGED_BY_WORKSPACE_AGENT } from "@meridian/shared/kube/labels";
import { notOwnedReason } from "@meridian/shared/kube/ownership";
import { CONFIG_MAPS, PODS, type ResourceType, SERVICES } from "@meridian/shared/kube/resources";
import { F, type Logger } from "@meridian/shared/log";
import { type DeploymentSpec, taskManagerReplicas } from "@meridian/shared/protocol/index";
import { names } from "./objects.ts";

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

  /** True when an object of the Service's name exists and is not ours (logged once): do not apply. */
  async serviceTaken(deployment: string, log: Logger): Promise<boolean> {
    const conflict = await this.#foreign(SERVICES, names.service(deployment), deployment);
    this.#report(`${deployment}/service`, conflict ? [conflict] : [], log);
    return conflict !== undefined;
  }

  async #foreign(type: ResourceType, name: string, deployment: string): Promise<string | undefined> {
    const { client, namespace, workspaceId } = this.#o;
    const obj = await getObject(client, type, namespace, name);
    const why = obj && notOwnedReason(obj, MANAGED_BY_WORKSPACE_AGENT, workspaceId);
    if (!why) return undefined;
    return (
      `${type.kind} ${namespace}/${name} already exists and is not Meridian's (${why}); nothing of ` +
      `Flink deployment ${deployment} was written or deleted. To fix: give the deployment another name, ` +
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
