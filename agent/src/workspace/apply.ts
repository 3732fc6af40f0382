// The apply step of one workspace's reconcile (reconcile.ts decides when it runs): desired
// (builders), observed (the caches), the difference (desired ⊆ observed), apply only what differs,
// record Events. A resync that finds nothing different makes zero requests.
import { ANNOTATION_ORPHANED_SINCE, isMarkedOrphan } from "@meridian/shared/controller/orphan";
import { RetryableError } from "@meridian/shared/controller/result";
import { applyObject, applyObjectDetailed, deleteObject } from "@meridian/shared/kube/apply";
import type { KubeClient } from "@meridian/shared/kube/client";
import { firstDifference } from "@meridian/shared/kube/compare";
import type { EventRecorder } from "@meridian/shared/kube/events";
import { FIELD_MANAGER_AGENT } from "@meridian/shared/kube/labels";
import {
  DEPLOYMENTS,
  type KubeObject,
  NAMESPACES,
  type ResourceType,
  ROLE_BINDINGS,
  ROLES,
  SECRETS,
  SERVICE_ACCOUNTS,
} from "@meridian/shared/kube/resources";
import type { WorkspaceCredential, WorkspaceSpec } from "@meridian/shared/protocol/index";
import { settleAll } from "@meridian/shared/settle";
import type { OwnedCaches } from "../caches.ts";
import { checkWorkspace, type Policy, type Violation } from "../policy.ts";
import type { BuildContext } from "./build-context.ts";
import { findConflicts, type OwnershipConflict } from "./conflicts.ts";
import { planCredential } from "./credentials.ts";
import {
  buildCredentialSecret,
  buildDrainRoleBinding,
  type DesiredObject,
  DRAIN_BINDING,
  desiredObjects,
  NAMES,
  namespaceName,
  resolveImage,
} from "./objects.ts";
import { proxyRevision } from "./proxy-secret.ts";
import { buildPullSecretCopy } from "./pull-secrets.ts";

export interface ApplyDeps {
  kube: KubeClient;
  caches: OwnedCaches;
  recorder: EventRecorder;
  policy: Policy;
  /** The build context without the image (resolved per workspace). */
  build: Omit<BuildContext, "image">;
  defaultImage: string;
  mintCredential(workspaceId: string, signal: AbortSignal): Promise<WorkspaceCredential>;
  now(): number;
}

export type CredentialResult = { ok: true; refreshAtMs: number } | { ok: false; error: string };

export type ApplyResult =
  | { outcome: "refused"; writes: 0; violations: Violation[] }
  | { outcome: "conflict"; writes: 0; conflicts: OwnershipConflict[] }
  | { outcome: "unchanged" | "applied"; writes: number; credential: CredentialResult };

/**
 * The critical path of a new workspace (Namespace, ServiceAccount, Deployment) goes ahead of other
 * workspaces' remaining writes when the client's queue is full.
 */
const CRITICAL_PATH = new Set<ResourceType>([NAMESPACES, SERVICE_ACCOUNTS, DEPLOYMENTS]);

/** Applies what differs for `spec` (refused or in conflict: nothing). */
export async function applyWorkspace(
  deps: ApplyDeps,
  spec: WorkspaceSpec,
  lastAppliedGeneration: number | undefined,
  signal: AbortSignal,
): Promise<ApplyResult> {
  const image = resolveImage(spec, deps.defaultImage);
  const violations = checkWorkspace(spec, image, deps.policy);
  if (violations.length > 0) return { outcome: "refused", writes: 0, violations };
  const nsName = namespaceName(deps.build.namespacePrefix, spec.id);
  const observedProxy = deps.caches.get(SECRETS, nsName, NAMES.proxySecret);
  const revision = proxyRevision(observedProxy, deps.build.httpsProxy);
  const desired = desiredObjects(spec, { ...deps.build, image, proxyRevision: revision });
  // Never adopt: an object of one of our names that is not Meridian's stops the whole workspace.
  const conflicts = findConflicts(deps.caches, spec.id, deps.build.namespacePrefix, desired);
  if (conflicts.length > 0) return { outcome: "conflict", writes: 0, conflicts };
  const [namespace, ...rest] = desired;
  const run: ReconcileRun = { writes: 0, events: [] };
  const ensure = (d: DesiredObject) => ensureObject(deps, d, spec, lastAppliedGeneration, run, signal);
  const byType = (t: ResourceType) => rest.find((o) => o.type === t);
  try {
    const ns = await ensure(namespace!);
    if (ns.metadata?.deletionTimestamp)
      throw new RetryableError(
        "NamespaceTerminating",
        `namespace ${ns.metadata.name} is being deleted; the workspace is re-created once it is gone`,
      );
    // The critical path first, alone, so the workspace agent starts as early as possible. Its pods
    // need the ServiceAccount, which is applied alongside the Deployment: the Deployment and
    // ReplicaSet controllers take far longer to get to a pod than one apply takes (if they ever
    // win, the ReplicaSet controller retries within milliseconds). Then the rest in parallel
    // (bounded by the client's global limit), a RoleBinding after its Role (the RBAC escalation
    // check reads the Role). Events are recorded last.
    // The proxy Secret (only with a proxy) goes first: the workspace agent's container reads it at start.
    const sa = byType(SERVICE_ACCOUNTS);
    const deployment = byType(DEPLOYMENTS);
    const proxy = byType(SECRETS);
    if (proxy) await ensure(proxy);
    else if (observedProxy) await deleteStaleProxySecret(deps, observedProxy, run, signal);
    await settleAll([sa && ensure(sa), deployment && ensure(deployment)]);
    // Awaited with the rest below, never left dangling: if an apply fails first, settleAll still
    // observes the credential's own failure (an abort on lost leadership fails both).
    const credential = ensureCredential(deps, spec, run, signal);
    // A RoleBinding the previous version made references a Role, and a roleRef is immutable: it is
    // replaced, then the Role it referenced goes (decision 53). The rest in parallel.
    const bindings = rest.filter((o) => o.type === ROLE_BINDINGS);
    const others = rest.filter((o) => ![sa, deployment, proxy, ...bindings].includes(o));
    others.push(...pullSecretCopies(deps, spec.id));
    const bindThenRetire = async (binding: DesiredObject) => {
      await replaceBinding(deps, binding, run, signal);
      await ensure(binding);
      await deleteRetiredRole(deps, binding, run, signal);
    };
    // Every write settles before the run ends, even when one fails (settle.ts).
    const [cred] = await settleAll([
      credential,
      settleAll([...bindings.map(bindThenRetire), ...others.map(ensure)]),
    ]);
    return { outcome: run.writes > 0 ? "applied" : "unchanged", writes: run.writes, credential: cred };
  } finally {
    recordEvents(deps.recorder, run.events);
  }
}

/**
 * Before a drain reads the workspace namespace's ConfigMaps: the RoleBinding that lets it
 * (meridian-agent-drain), when the agent has not seen it yet — a workspace deleted before an upgraded
 * agent ever applied it (decision 53). Writes nothing when it is there; the apply path repairs drift.
 * A list right after the create may still be refused while RBAC catches up: the drain is retried.
 */
export async function ensureDrainBinding(deps: ApplyDeps, id: string, signal: AbortSignal): Promise<number> {
  const ns = namespaceName(deps.build.namespacePrefix, id);
  const namespace = deps.caches.get(NAMESPACES, undefined, ns);
  if (!namespace || namespace.metadata?.deletionTimestamp) return 0; // nothing left to drain
  if (deps.caches.get(ROLE_BINDINGS, ns, DRAIN_BINDING)) return 0;
  const object = buildDrainRoleBinding(id, ns, deps.build.clusterRoles);
  const applied = await applyObject(deps.kube, ROLE_BINDINGS, object, {
    fieldManager: FIELD_MANAGER_AGENT,
    force: true,
    signal,
  });
  deps.caches.noteWritten(ROLE_BINDINGS, applied);
  return 1;
}

/**
 * The copies of the pull secrets whose source exists (pull-secrets.ts). A Secret of that name in the
 * namespace that is not Meridian's is left alone: it serves the pods as it is.
 */
function pullSecretCopies(deps: ApplyDeps, id: string): DesiredObject[] {
  const ns = namespaceName(deps.build.namespacePrefix, id);
  return deps.caches
    .pullSecretSources()
    .map((source) => buildPullSecretCopy(id, ns, source))
    .filter((copy) => !deps.caches.foreign(SECRETS, ns, copy.metadata?.name ?? ""))
    .map((object) => ({ type: SECRETS, object }));
}

/**
 * Records a reconcile's Events: one `Created` Event for everything a run created (on the workspace
 * agent's Deployment when it was among them), one Event per update or repair. A new workspace
 * thus costs one Event, not eight, which keeps the API server's write load down.
 */
function recordEvents(recorder: EventRecorder, events: ReconcileRun["events"]): void {
  const created = events.filter((e) => e.reason === "Created");
  if (created.length > 0) {
    const anchor = created.find((e) => e.object.kind === "Deployment") ?? created[0]!;
    const what = created.map((e) => `${e.object.kind} ${e.object.metadata?.name}`).join(", ");
    void recorder.record(anchor.object, "Normal", "Created", `created ${what}`);
  }
  for (const e of events)
    if (e.reason !== "Created") void recorder.record(e.object, "Normal", e.reason, e.message);
}

/**
 * A RoleBinding of ours whose roleRef is not the desired one (the previous version's, a Role of the
 * same name): deleted by name and uid, so the apply that follows creates it with the new roleRef
 * (a roleRef cannot be changed in place). The workspace agent loses its rights only between the two
 * requests; the new binding grants the same rules.
 */
async function replaceBinding(
  deps: ApplyDeps,
  binding: DesiredObject,
  run: ReconcileRun,
  signal: AbortSignal,
) {
  const { namespace, name = "" } = binding.object.metadata ?? {};
  const observed = deps.caches.get(ROLE_BINDINGS, namespace, name);
  const [was, now] = [roleRefOf(observed), roleRefOf(binding.object)];
  if (!observed || !firstDifference({ roleRef: now }, { roleRef: was })) return;
  const message = `replaced RoleBinding ${name}: it bound ${was?.kind} ${was?.name}, now ClusterRole ${now?.name} (a roleRef cannot change in place)`;
  await deleteOwned(deps, ROLE_BINDINGS, observed, { reason: "Replaced", message }, run, signal);
}

/**
 * The Role of the binding's name that the previous version created (labelled as Meridian's; anything
 * else of that name is left alone): deleted once the binding references the chart's ClusterRole.
 */
async function deleteRetiredRole(
  deps: ApplyDeps,
  binding: DesiredObject,
  run: ReconcileRun,
  signal: AbortSignal,
) {
  const { namespace, name = "" } = binding.object.metadata ?? {};
  const role = deps.caches.get(ROLES, namespace, name);
  if (!role) return;
  const message = `deleted Role ${name}: RoleBinding ${name} now binds the chart's ClusterRole instead`;
  await deleteOwned(deps, ROLES, role, { reason: "Deleted", message }, run, signal);
}

/** Deletes one of Meridian's objects by name and uid (never a namesake created since); counts and records it. */
async function deleteOwned(
  deps: ApplyDeps,
  type: ResourceType,
  obj: KubeObject,
  event: { reason: string; message: string },
  run: ReconcileRun,
  signal: AbortSignal,
): Promise<void> {
  const { namespace, name = "", uid } = obj.metadata ?? {};
  if (!(await deleteObject(deps.kube, type, namespace, name, { uid, signal }))) return;
  run.writes++;
  run.events.push({ object: obj, ...event });
}

function roleRefOf(o: KubeObject | undefined): { kind?: string; name?: string } | undefined {
  return (o as { roleRef?: { kind?: string; name?: string } } | undefined)?.roleRef;
}

/** What one reconcile wrote, and the Events it owes (recorded once the applies are done). */
interface ReconcileRun {
  writes: number;
  events: { object: KubeObject; reason: string; message: string }[];
}

async function ensureObject(
  deps: ApplyDeps,
  d: DesiredObject,
  spec: WorkspaceSpec,
  lastAppliedGeneration: number | undefined,
  run: ReconcileRun,
  signal: AbortSignal,
): Promise<KubeObject> {
  const meta = d.object.metadata ?? {};
  const observed = deps.caches.get(d.type, meta.namespace, meta.name ?? "");
  let diff = observed ? firstDifference(d.object, observed) : "(absent)";
  // Applying without the orphan mark is how the mark is removed (server-side apply drops fields
  // this manager owned and no longer sets); the subset check alone would not notice it.
  if (!diff && d.type === NAMESPACES && isMarkedOrphan(observed?.metadata?.annotations))
    diff = `metadata.annotations.${ANNOTATION_ORPHANED_SINCE}`;
  if (!diff && observed) return observed;
  const { object: applied, created } = await applyObjectDetailed(deps.kube, d.type, d.object, {
    fieldManager: FIELD_MANAGER_AGENT,
    force: true,
    signal,
    priority: CRITICAL_PATH.has(d.type) ? 1 : 0,
  });
  run.writes++;
  deps.caches.noteWritten(d.type, applied);
  const what = `${d.type.kind} ${meta.name}`;
  let reason = "Repaired";
  let message = `repaired ${what}: ${diff} had drifted`;
  if (created) [reason, message] = ["Created", `created ${what}`];
  else if (!observed) message = `repaired ${what}: it existed but the agent's cache had not seen it yet`;
  else if (lastAppliedGeneration !== undefined && lastAppliedGeneration !== spec.generation)
    [reason, message] = ["Updated", `updated ${what} to generation ${spec.generation}`];
  run.events.push({ object: applied, reason, message });
  return applied;
}

/**
 * The proxy Secret of a time the agent had a proxy: deleted, so no proxy password stays in the
 * namespace after the agent stopped using it (the Deployment no longer names it).
 */
async function deleteStaleProxySecret(
  deps: ApplyDeps,
  secret: KubeObject,
  run: ReconcileRun,
  signal: AbortSignal,
): Promise<void> {
  const { namespace, name = NAMES.proxySecret, uid } = secret.metadata ?? {};
  const existed = await deleteObject(deps.kube, SECRETS, namespace, name, { uid, signal });
  if (!existed) return;
  run.writes++;
  run.events.push({
    object: secret,
    reason: "Deleted",
    message: `deleted Secret ${name}: the agent no longer uses a proxy`,
  });
}

/** Keeps the credential Secret filled and fresh; never throws for a control-plane failure. */
async function ensureCredential(
  deps: ApplyDeps,
  spec: WorkspaceSpec,
  run: ReconcileRun,
  signal: AbortSignal,
): Promise<CredentialResult> {
  const ns = namespaceName(deps.build.namespacePrefix, spec.id);
  const observed = deps.caches.get(SECRETS, ns, NAMES.secret);
  const plan = planCredential(observed, spec.id, deps.now(), deps.caches.credentialRequest(spec.id));
  let desired: KubeObject;
  let refreshAtMs: number;
  let minted = false;
  if (plan.action === "keep") {
    desired = buildCredentialSecret(spec.id, ns, plan.credential, plan.credential.issuedAt);
    refreshAtMs = plan.refreshAtMs;
    if (observed && !firstDifference(desired, observed)) return { ok: true, refreshAtMs };
  } else {
    const issuedAt = new Date(deps.now()).toISOString();
    let credential: WorkspaceCredential;
    try {
      credential = await deps.mintCredential(spec.id, signal);
    } catch (err) {
      return {
        ok: false,
        error: `cannot obtain a workspace credential from the control plane: ${(err as Error).message}`,
      };
    }
    desired = buildCredentialSecret(spec.id, ns, credential, issuedAt);
    const next = planCredential(desired, spec.id, deps.now());
    refreshAtMs = next.action === "keep" ? next.refreshAtMs : deps.now() + 60_000;
    minted = true;
  }
  const applied = await applyObject(deps.kube, SECRETS, desired, {
    fieldManager: FIELD_MANAGER_AGENT,
    force: true,
    signal,
  });
  run.writes++;
  deps.caches.noteWritten(SECRETS, applied);
  const reason = !observed ? "Created" : minted ? "CredentialRefreshed" : "Repaired";
  const message = minted
    ? `stored a new workspace credential (refresh due ${new Date(refreshAtMs).toISOString()})`
    : "repaired Secret meridian-workspace-credential: its labels had drifted";
  run.events.push({ object: applied, reason, message });
  return { ok: true, refreshAtMs };
}
