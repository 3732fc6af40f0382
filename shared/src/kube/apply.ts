// Server-side apply, create-only and delete: the ways Meridian writes the objects it owns; and the read
// of one object by type and name that decides whether any of them may touch it.
import type { KubeClient } from "./client.ts";
import { isAlreadyExists, isNotFound } from "./errors.ts";
import { type KubeObject, type ResourceType, resourcePath } from "./resources.ts";

export const APPLY_CONTENT_TYPE = "application/apply-patch+yaml";

export interface ApplyOptions {
  /** The field manager that owns what this apply says (`meridian-agent`, ...). */
  fieldManager: string;
  /**
   * Take ownership of fields another manager set. Meridian forces only on objects whose every
   * field it applies is its own (the contract: force on conflict only for fields Meridian owns).
   */
  force?: boolean;
  signal?: AbortSignal;
  /** Place in the client's queue (see KubeRequest.priority); default 0. */
  priority?: number;
}

/**
 * Server-side applies `obj` (which must carry metadata.name, and metadata.namespace for a
 * namespaced kind) and returns the object as stored. Creates it when absent.
 */
export async function applyObject<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  obj: T,
  opts: ApplyOptions,
): Promise<T> {
  return (await applyObjectDetailed(client, type, obj, opts)).object;
}

/** `applyObject`, also saying whether the apply created the object (201) or changed an existing one. */
export async function applyObjectDetailed<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  obj: T,
  opts: ApplyOptions,
): Promise<{ object: T; created: boolean }> {
  const name = obj.metadata?.name;
  const namespace = obj.metadata?.namespace;
  if (!name) throw new Error(`cannot apply a ${type.kind} without metadata.name`);
  if (type.namespaced && !namespace) throw new Error(`cannot apply ${type.kind} ${name} without a namespace`);
  const body = { ...obj, apiVersion: type.apiVersion, kind: type.kind };
  const res = await client.requestWithStatus<T>({
    method: "PATCH",
    path: resourcePath(type, namespace, name),
    query: { fieldManager: opts.fieldManager, force: opts.force ? true : undefined },
    contentType: APPLY_CONTENT_TYPE,
    // JSON is YAML, so the apply-patch+yaml content type takes it as is.
    body: JSON.stringify(body),
    signal: opts.signal,
    priority: opts.priority,
  });
  return { object: res.body, created: res.status === 201 };
}

/**
 * Creates `obj` only if nothing of its name exists: a POST, which the API server refuses with 409
 * AlreadyExists instead of taking over what is there (as server-side apply with force would).
 * Returns the stored object, or undefined when the name is taken (the caller looks at what holds it).
 */
export async function createObject<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  obj: T,
  opts: Omit<ApplyOptions, "force">,
): Promise<T | undefined> {
  const namespace = obj.metadata?.namespace;
  if (!obj.metadata?.name) throw new Error(`cannot create a ${type.kind} without metadata.name`);
  if (type.namespaced && !namespace)
    throw new Error(`cannot create ${type.kind} ${obj.metadata.name} without a namespace`);
  try {
    return await client.request<T>({
      method: "POST",
      path: resourcePath(type, namespace),
      query: { fieldManager: opts.fieldManager },
      body: { ...obj, apiVersion: type.apiVersion, kind: type.kind },
      signal: opts.signal,
      priority: opts.priority,
    });
  } catch (err) {
    if (isAlreadyExists(err)) return undefined;
    throw err;
  }
}

/** The object of `type` named `name` (in `namespace`) as the API server has it; undefined when absent. */
export async function getObject(
  client: KubeClient,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
): Promise<KubeObject | undefined> {
  return client.getOrUndefined<KubeObject>(resourcePath(type, namespace, name));
}

export interface DeleteOptions {
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  /** Delete only if the object still has this uid (it was not replaced meanwhile). */
  uid?: string;
  /** Delete only if the object is still at this resourceVersion (it was not changed meanwhile). */
  resourceVersion?: string;
  /** 0: remove at once, without waiting for a node to stop the pod (for a pod never meant to run). */
  gracePeriodSeconds?: number;
  signal?: AbortSignal;
}

/** Deletes an object; false when it was already gone. */
export async function deleteObject(
  client: KubeClient,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  opts: DeleteOptions = {},
): Promise<boolean> {
  const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
  if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
  if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.uid || opts.resourceVersion)
    body.preconditions = { uid: opts.uid, resourceVersion: opts.resourceVersion };
  try {
    await client.request({
      method: "DELETE",
      path: resourcePath(type, namespace, name),
      body,
      signal: opts.signal,
    });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
