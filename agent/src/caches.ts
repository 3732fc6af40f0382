// One watch cache per kind the agent owns, all label-selected on managed-by=meridian-agent (and, for
// the fixed-name namespaced kinds, field-selected on that name, which is what lets RBAC narrow the
// agent's list/watch to those names). Reads see our own latest writes at once through a small
// overlay that the watch retires when it catches up. Every change is mapped to a workspace id.
import type { KubeClient } from "@meridian/shared/kube/client";
import { MANAGED_BY_AGENT, managedBySelector } from "@meridian/shared/kube/labels";
import { type KubeObject, NAMESPACES, objectKey, type ResourceType } from "@meridian/shared/kube/resources";
import { type CacheEvent, dropManagedFields, WatchCache } from "@meridian/shared/kube/watch-cache";
import type { Logger } from "@meridian/shared/log";
import { OWNED_NAMESPACED, workspaceIdOf } from "./workspace/objects.ts";

export type ChangeListener = (workspaceId: string, kind: string, event: CacheEvent<KubeObject>) => void;

export class OwnedCaches {
  readonly #caches = new Map<string, WatchCache>();
  readonly #overlay = new Map<string, KubeObject>();
  readonly #listeners = new Set<ChangeListener>();
  readonly #prefix: string;

  constructor(client: KubeClient, prefix: string, logger?: Logger) {
    this.#prefix = prefix;
    const labelSelector = managedBySelector(MANAGED_BY_AGENT);
    const add = (type: ResourceType, fieldSelector?: string) => {
      const cache = new WatchCache({
        client,
        type,
        labelSelector,
        fieldSelector,
        logger,
        transform: dropManagedFields,
      });
      cache.on((e) => this.#onEvent(type, e));
      this.#caches.set(type.kind, cache);
    };
    add(NAMESPACES);
    for (const { type, name } of OWNED_NAMESPACED) add(type, `metadata.name=${name}`);
  }

  start(): void {
    for (const c of this.#caches.values()) c.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#caches.values()].map((c) => c.stop()));
  }

  get synced(): boolean {
    return [...this.#caches.values()].every((c) => c.synced);
  }

  /** Resolves true when every cache has listed once; false if `signal` aborted first. */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all([...this.#caches.values()].map((c) => c.waitForSync(signal)));
    return results.every(Boolean);
  }

  /** The newest known state of an object: our own write if the watch has not caught up yet. */
  get<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): T | undefined {
    const overlay = this.#overlay.get(overlayKey(type, namespace, name));
    if (overlay) return overlay as T;
    return this.#caches.get(type.kind)?.get(namespace, name) as T | undefined;
  }

  list(type: ResourceType): KubeObject[] {
    return this.#caches.get(type.kind)?.list() ?? [];
  }

  /** Remembers what a write returned, so the next read does not see the pre-write object. */
  noteWritten(type: ResourceType, obj: KubeObject): void {
    this.#overlay.set(
      overlayKey(type, obj.metadata?.namespace, obj.metadata?.name ?? ""),
      dropManagedFields(obj),
    );
  }

  /** Workspace ids that have a namespace in the cluster. */
  workspaceIdsInCluster(): string[] {
    const ids: string[] = [];
    for (const ns of this.list(NAMESPACES)) {
      const id = workspaceIdOf(this.#prefix, ns.metadata?.name);
      if (id) ids.push(id);
    }
    return ids;
  }

  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Total objects cached, for logs and the benchmark. */
  get size(): number {
    let n = 0;
    for (const c of this.#caches.values()) n += c.size;
    return n;
  }

  #onEvent(type: ResourceType, e: CacheEvent<KubeObject>): void {
    const meta = e.object.metadata;
    const key = overlayKey(type, meta?.namespace, meta?.name ?? "");
    const written = this.#overlay.get(key);
    if (written && !isOlder(meta?.resourceVersion, written.metadata?.resourceVersion))
      this.#overlay.delete(key);
    const id = workspaceIdOf(this.#prefix, type === NAMESPACES ? meta?.name : meta?.namespace);
    if (!id) return;
    for (const l of this.#listeners) l(id, type.kind, e);
  }
}

function overlayKey(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.kind}/${objectKey(type.namespaced ? namespace : undefined, name)}`;
}

/** resourceVersions are opaque, but etcd's are increasing integers; unknown shapes count as newer. */
function isOlder(rv: string | undefined, than: string | undefined): boolean {
  if (!rv || !than || !/^\d+$/.test(rv) || !/^\d+$/.test(than)) return false;
  return BigInt(rv) < BigInt(than);
}
