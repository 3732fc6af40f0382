// What an agent applied, as the API server saw it: a watch (admin credentials) on the one object per
// item that records the generation the agent applied (a workspace's Namespace, a deployment's
// ConfigMap), kept as a journal per item: every generation it carried, in order, and whether it was
// ever marked for deletion or deleted. compare.ts holds this against the control plane's change log.
import type { KubeClient } from "@meridian/shared/kube/client";
import type { KubeObject, ResourceType } from "@meridian/shared/kube/resources";
import { dropManagedFields, WatchCache } from "@meridian/shared/kube/watch-cache";

export interface AppliedItem {
  /** Distinct generations the object carried, in the order seen. */
  generations: number[];
  /** It got a deletionTimestamp or was deleted. */
  deletionSeen: boolean;
  /** It exists now without a deletionTimestamp. */
  present: boolean;
}

export interface JournalOptions {
  client: KubeClient;
  type: ResourceType;
  namespace?: string;
  labelSelector: string;
  /** The item an object records (undefined: not one the soak follows). */
  keyOf(obj: KubeObject): string | undefined;
  /** The generation it records; undefined when it records none (yet). */
  generationOf(obj: KubeObject): number | undefined;
}

export class AppliedJournal {
  readonly items = new Map<string, AppliedItem>();
  readonly #cache: WatchCache;
  readonly #o: JournalOptions;

  constructor(o: JournalOptions) {
    this.#o = o;
    this.#cache = new WatchCache({
      client: o.client,
      type: o.type,
      namespace: o.namespace,
      labelSelector: o.labelSelector,
      transform: dropManagedFields,
    });
    this.#cache.on((e) => this.#record(e.object, e.type === "deleted"));
  }

  async start(): Promise<void> {
    this.#cache.start();
    await this.#cache.waitForSync();
  }

  stop(): Promise<void> {
    return this.#cache.stop();
  }

  /** The watch's current objects (for checks of the final state). */
  objects(): KubeObject[] {
    return this.#cache.list();
  }

  #record(obj: KubeObject, deleted: boolean): void {
    const key = this.#o.keyOf(obj);
    if (key === undefined) return;
    const item = this.items.get(key) ?? { generations: [], deletionSeen: false, present: false };
    const generation = this.#o.generationOf(obj);
    if (generation !== undefined && item.generations.at(-1) !== generation) item.generations.push(generation);
    const terminating = obj.metadata?.deletionTimestamp !== undefined;
    if (deleted || terminating) item.deletionSeen = true;
    item.present = !deleted && !terminating;
    this.items.set(key, item);
  }
}
