// Installs the chart's ValidatingAdmissionPolicies and bindings (templates/validatingadmissionpolicy*.yaml)
// into a test cluster exactly as the chart renders them for the agent's ServiceAccount and namespace,
// and waits until the API server enforces them. Every agent integration test runs confined this way
// (harness.ts), so a policy that denies something the agent needs fails the ordinary tests.
import { setTimeout as sleep } from "node:timers/promises";
import type { HttpMethod, KubeClient } from "@meridian/shared/kube/client";
import { KubeApiError } from "@meridian/shared/kube/errors";
import { parseAllDocuments } from "yaml";
import type { Cluster } from "../cluster/index.ts";
import { CHART_DIR, helm, RELEASE, valueArgs } from "../helm/helm.ts";

export interface ConfinementOptions {
  /** The agent's namespace (the release namespace). */
  namespace: string;
  /** The agent's ServiceAccount; the chart names it after the release's full name. */
  serviceAccount: string;
  /** Extra chart values (`--set` keys), e.g. `policy.namespacePrefix`. */
  set?: Record<string, string>;
}

export interface Confinement {
  /** The policy judging the agent's requests: what its denials name. */
  agentPolicy: string;
  /** The policy judging every workspace agent's requests. */
  workspacePolicy: string;
}

const TEMPLATES = [
  "templates/validatingadmissionpolicy.yaml",
  "templates/validatingadmissionpolicybinding.yaml",
];
const PLURAL: Record<string, string> = {
  ValidatingAdmissionPolicy: "validatingadmissionpolicies",
  ValidatingAdmissionPolicyBinding: "validatingadmissionpolicybindings",
};

type Obj = { kind: string; metadata: { name: string; resourceVersion?: string } };

/** The chart's policies and bindings for this agent identity, as `helm template` renders them. */
export async function renderConfinement(o: ConfinementOptions): Promise<Obj[]> {
  const set = { fullnameOverride: o.serviceAccount, ...o.set };
  const show = TEMPLATES.flatMap((t) => ["--show-only", t]);
  const args = ["template", RELEASE, CHART_DIR, "--namespace", o.namespace, ...valueArgs(["defaults"], set)];
  const res = await helm([...args, ...show]);
  if (res.code !== 0)
    throw new Error(`rendering the confinement policies failed (exit ${res.code}):\n${res.stderr}`);
  return parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((m): m is Obj => !!m?.kind);
}

/** Creates or replaces the policies and bindings as admin. */
export async function installConfinement(cluster: Cluster, o: ConfinementOptions): Promise<Confinement> {
  const objects = await renderConfinement(o);
  for (const obj of objects) await put(cluster, obj);
  const names = objects.filter((m) => m.kind === "ValidatingAdmissionPolicy").map((m) => m.metadata.name);
  const workspacePolicy = names.find((n) => n.endsWith("-workspace-confinement"));
  const agentPolicy = names.find((n) => n !== workspacePolicy && !n.endsWith("-flink-confinement"));
  if (!agentPolicy || !workspacePolicy)
    throw new Error(`the chart rendered no confinement policies (got ${names.join(", ") || "none"})`);
  return { agentPolicy, workspacePolicy };
}

async function put(cluster: Cluster, obj: Obj): Promise<void> {
  const base = `/apis/admissionregistration.k8s.io/v1/${PLURAL[obj.kind]}`;
  const created = await cluster.request("POST", base, obj);
  if (created.status < 400) return;
  if (created.status !== 409) throw new Error(`creating ${obj.kind} ${obj.metadata.name}: ${created.body}`);
  const current = JSON.parse((await cluster.request("GET", `${base}/${obj.metadata.name}`)).body) as Obj;
  const metadata = { ...obj.metadata, resourceVersion: current.metadata.resourceVersion };
  const replaced = await cluster.request("PUT", `${base}/${obj.metadata.name}`, { ...obj, metadata });
  if (replaced.status >= 400) throw new Error(`replacing ${obj.kind} ${obj.metadata.name}: ${replaced.body}`);
}

/**
 * Resolves once `attempt` (a dry-run write that the policy must refuse) is refused naming `policy`:
 * the API server starts enforcing a new policy within a second or two of its creation.
 */
export async function waitUntilEnforced(
  policy: string,
  attempt: () => Promise<{ status: number; message: string }>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const res = await attempt();
    if (res.status === 403 && res.message.includes(`ValidatingAdmissionPolicy '${policy}'`)) return;
    last = `${res.status} ${res.message}`;
    await sleep(100);
  }
  throw new Error(`policy ${policy} was not enforced after ${timeoutMs} ms; the probe answered ${last}`);
}

/** Server-side apply: the agent's way of writing (RBAC checks resourceNames on it, unlike a POST). */
export const APPLY = "application/apply-patch+yaml";

/** What the API server answered a write: its status and, for a refusal, its message. */
export interface WriteAnswer {
  status: number;
  message: string;
}

/**
 * One write with `client`'s credential, never throwing on a refusal (`dryRun` goes through admission
 * but stores nothing). A network failure still throws.
 */
export async function tryWrite(
  client: KubeClient,
  method: HttpMethod,
  path: string,
  body?: unknown,
  opts: { dryRun?: boolean; contentType?: string } = {},
): Promise<WriteAnswer> {
  try {
    const query: Record<string, string> = {};
    if (opts.dryRun) query.dryRun = "All";
    if (opts.contentType === APPLY) query.fieldManager = "meridian-agent";
    const res = await client.requestWithStatus({ method, path, body, query, contentType: opts.contentType });
    return { status: res.status, message: "" };
  } catch (err) {
    if (err instanceof KubeApiError) return { status: err.status, message: err.body?.message ?? err.message };
    throw err;
  }
}
