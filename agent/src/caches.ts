// One watch cache per kind the agent owns: all Namespaces, and for the fixed-name namespaced kinds
// every object of that name (field-selected, which is what lets RBAC narrow the agent's list/watch to
// those names). Not label-selected: an object of one of our names that is not Meridian's for its
// workspace must be seen to be refused (never adopted); the caches keep only its identity and
// labels, and get()/list() never return it. Reads see our own latest writes at once through a small
// overlay that the watch retires when it catches up. Every change is mapped to a workspace id. Also
// the sources of the image pull secrets (workspace/pull-secrets.ts): those Secrets in the agent's own
// namespace, each watched by name and kept whole; a change of one concerns every workspace.
import {
  CREDENTIAL_REQUEST_CONFIG_MAP,
  type CredentialRequest,
  readCredentialRequest,
} from "@meridian/shared/contract/credential-request";
import type { KubeClient } from "@meridian/shared/kube/client";
import { LABEL_MANAGED_BY, MANAGED_BY_AGENT } from "@meridian/shared/kube/labels";
import { identityOnly, isOwnedBy } from "@meridian/shared/kube/ownership";
import {
  CONFIG_MAPS,
  type KubeObject,
  NAMESPACES,
  objectKey,
  type ResourceType,
  SECRETS,
} from "@meridian/shared/kube/resources";
import { type CacheEvent, dropManagedFields, WatchCache } from "@meridian/shared/kube/watch-cache";
import type { Logger } from "@meridian/shared/log";
import { OWNED_NAMESPACED, workspaceIdOf } from "./workspace/objects.ts";

/** The pull secrets to copy: their names, found in the agent's namespace. */
export interface PullSecretSources {
  namespace: string;
  names: readonly string[];
}

export type ChangeListener = (workspaceId: string, kind: string, event: CacheEvent<KubeObject>) => void;

export class OwnedCaches {
  readonly #caches = new Map<string, WatchCache>();
  readonly #overlay = new Map<string, KubeObject>();
  readonly #listeners = new Set<ChangeListener>();
  readonly #resyncListeners = new Set<() => void>();
  readonly #prefix: string;
  readonly #sources = new Map<string, WatchCache>();
  /** The workspace agents' requests for a new credential (shared/src/contract/credential-request.ts). */
  readonly #requests: WatchCache;

  constructor(client: KubeClient, prefix: string, logger?: Logger, pullSecrets?: PullSecretSources) {
    this.#prefix = prefix;
    // One cache per kind and fixed name (a kind may have two names, e.g. the workspace agent's and
    // the Flink ServiceAccount): a field selector names one object name only.
    const add = (type: ResourceType, name?: string) => {
      const fieldSelector = name === undefined ? undefined : `metadata.name=${name}`;
      const cache = new WatchCache({ client, type, fieldSelector, logger, transform: slim });
      cache.on((e) => this.#onEvent(type, e));
      this.#caches.set(cacheKey(type, name), cache);
    };
    add(NAMESPACES);
    for (const { type, name } of OWNED_NAMESPACED) add(type, name);
    for (const name of pullSecrets?.names ?? []) {
      if (this.#caches.has(cacheKey(SECRETS, name))) continue; // one of Meridian's own names
      add(SECRETS, name);
      const fieldSelector = `metadata.name=${name}`;
      const namespace = pullSecrets?.namespace;
      const source = new WatchCache({ client, type: SECRETS, namespace, fieldSelector, logger });
      source.on((e) => {
        for (const id of this.workspaceIdsInCluster())
          for (const l of this.#listeners) l(id, SECRETS.kind, e);
      });
      this.#sources.set(name, source);
    }
    const fieldSelector = `metadata.name=${CREDENTIAL_REQUEST_CONFIG_MAP}`;
    this.#requests = new WatchCache({
      client,
      type: CONFIG_MAPS,
      fieldSelector,
      logger,
      transform: dropManagedFields,
    });
    this.#requests.on((e) => this.#onEvent(CONFIG_MAPS, e));
  }

  /** The workspace agent's request for a new credential in workspace `id`'s namespace, if any. */
  credentialRequest(id: string): CredentialRequest | undefined {
    const namespace = `${this.#prefix}${id}`;
    return readCredentialRequest(this.#requests.get(namespace, CREDENTIAL_REQUEST_CONFIG_MAP), id);
  }

  /** The source Secrets of the pull secrets that exist, whole (data included). */
  pullSecretSources(): KubeObject[] {
    return [...this.#sources.values()].flatMap((c) => c.list());
  }

  /** Every cache: the owned objects' and the pull secret sources'. */
  #all(): WatchCache[] {
    return [...this.#caches.values(), ...this.#sources.values(), this.#requests];
  }

  start(): void {
    for (const c of this.#all()) {
      c.onListed((l) => this.#onListed(l.relist));
      c.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all().map((c) => c.stop()));
  }

  get synced(): boolean {
    return this.#all().every((c) => c.synced);
  }

  /** Resolves true when every cache has listed once; false if `signal` aborted first. */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all(this.#all().map((c) => c.waitForSync(signal)));
    return results.every(Boolean);
  }

  /** Every cache has listed and none is re-listing after 410 Gone (its contents known stale). */
  get current(): boolean {
    return this.#all().every((c) => c.current);
  }

  /** Complete lists over every cache: first lists and re-lists after 410 Gone (logs, tests). */
  get lists(): number {
    return this.#all().reduce((n, c) => n + c.lists, 0);
  }

  /**
   * Hears when a cache finished a re-list after 410 Gone and every cache is current again. A re-list
   * reports only the objects that differ from the stale contents, so whatever was decided from
   * those (a reconcile, a status built while the leader's caches were still re-listing) is to be
   * decided again: the listener re-enqueues every workspace.
   */
  onResynced(listener: () => void): () => void {
    this.#resyncListeners.add(listener);
    return () => this.#resyncListeners.delete(listener);
  }

  /**
   * The newest known state of an object if it is Meridian's for the workspace its (namespace) name
   * belongs to: our own write if the watch has not caught up yet. Undefined when absent or not ours.
   */
  get<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): T | undefined {
    const o = this.#any(type, namespace, name);
    return o && this.#isOurs(type, o) ? (o as T) : undefined;
  }

  /**
   * An object of this name that exists but is not Meridian's for the workspace its (namespace) name
   * belongs to (identity and labels only); undefined when absent or ours.
   */
  foreign(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.#any(type, namespace, name);
    return o && !this.#isOurs(type, o) ? o : undefined;
  }

  /** Meridian's objects of one kind. */
  list(type: ResourceType): KubeObject[] {
    const all = [...this.#caches].filter(([k]) => k === type.kind || k.startsWith(`${type.kind}/`));
    return all.flatMap(([, c]) => c.list()).filter((o) => this.#isOurs(type, o));
  }

  /** Remembers what a write returned, so the next read does not see the pre-write object. */
  noteWritten(type: ResourceType, obj: KubeObject): void {
    this.#overlay.set(
      overlayKey(type, obj.metadata?.namespace, obj.metadata?.name ?? ""),
      dropManagedFields(obj),
    );
  }

  /** Workspace ids that have a namespace of Meridian's in the cluster. */
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

  #any(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const overlay = this.#overlay.get(overlayKey(type, namespace, name));
    const cache = this.#caches.get(cacheKey(type, type.namespaced ? name : undefined));
    return overlay ?? cache?.get(namespace, name);
  }

  /** Labelled as Meridian's for the workspace whose namespace this is (or which this namespace is). */
  #isOurs(type: ResourceType, o: KubeObject): boolean {
    const meta = o.metadata;
    const id = workspaceIdOf(this.#prefix, type === NAMESPACES ? meta?.name : meta?.namespace);
    return id !== undefined && isOwnedBy(o, MANAGED_BY_AGENT, id);
  }

  #onListed(relist: boolean): void {
    if (!relist || !this.current) return;
    for (const l of [...this.#resyncListeners]) l();
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

/** Namespaces: one cache of the kind; namespaced kinds: one per fixed name. */
function cacheKey(type: ResourceType, name: string | undefined): string {
  return name === undefined ? type.kind : `${type.kind}/${name}`;
}

function overlayKey(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.kind}/${objectKey(type.namespaced ? namespace : undefined, name)}`;
}

/** What the caches keep: ours without managedFields, anything else as identity and labels only. */
function slim(obj: KubeObject): KubeObject {
  return obj.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_AGENT
    ? dropManagedFields(obj)
    : identityOnly(obj);
}

/** resourceVersions are opaque, but etcd's are increasing integers; unknown shapes count as newer. */
function isOlder(rv: string | undefined, than: string | undefined): boolean {
  if (!rv || !than || !/^\d+$/.test(rv) || !/^\d+$/.test(than)) return false;
  return BigInt(rv) < BigInt(than);
}
