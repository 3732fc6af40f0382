// Running the real Helm binary against the chart: lint, template (parsed into objects) and the
// failures the chart must produce. Helm never touches the user's own config: see helmEnv().
import { execFile } from "node:child_process";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../cluster/paths.ts";
import { helmBinary, helmEnv } from "./helm-binary.ts";

export const CHART_DIR = join(repoRoot, "helm", "meridian-agent");
export const VALUES_DIR = join(repoRoot, "test", "helm", "values");
export const RELEASE = "meridian-agent";
export const NAMESPACE = "meridian-system";
/** The value sets in test/helm/values/, each a realistic install. */
export const VALUE_SETS = [
  "defaults",
  "existing-secret",
  "custom-ca-proxy",
  "strict-policy",
  "servicemonitor",
  "openshift",
  "secrets-from-existing",
];

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A rendered Kubernetes object, loosely typed: tests reach into it with optional chaining. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  // biome-ignore lint/suspicious/noExplicitAny: rendered objects are arbitrary Kubernetes JSON
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: any };
  // biome-ignore lint/suspicious/noExplicitAny: idem
  [k: string]: any;
}

/** Runs helm with `args`; never throws on a non-zero exit (the caller asserts on it). */
export async function helm(args: string[], opts: { kubeconfig?: string } = {}): Promise<HelmResult> {
  const bin = await helmBinary();
  const env = { ...helmEnv(), ...(opts.kubeconfig ? { KUBECONFIG: opts.kubeconfig } : {}) };
  return new Promise((resolve) => {
    execFile(bin, args, { env, maxBuffer: 32 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `-f test/helm/values/<name>.yaml` for each name, then `--set k=v` for each extra setting. */
export function valueArgs(valueSets: string[], set: Record<string, string> = {}): string[] {
  return [
    ...valueSets.flatMap((v) => ["-f", join(VALUES_DIR, `${v}.yaml`)]),
    ...Object.entries(set).flatMap(([k, v]) => ["--set", `${k}=${v}`]),
  ];
}

/** `helm template` of the chart; throws with helm's stderr when rendering fails. */
export async function renderText(valueSets: string[], set: Record<string, string> = {}): Promise<string> {
  const res = await helm([
    "template",
    RELEASE,
    CHART_DIR,
    "--namespace",
    NAMESPACE,
    ...valueArgs(valueSets, set),
  ]);
  if (res.code !== 0) {
    throw new Error(`helm template with ${valueSets.join(", ")} failed (exit ${res.code}):\n${res.stderr}`);
  }
  return res.stdout;
}

/** The rendered objects, in helm's order. */
export async function render(valueSets: string[], set: Record<string, string> = {}): Promise<Manifest[]> {
  const docs = parseAllDocuments(await renderText(valueSets, set));
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as Manifest | null;
    if (obj) out.push(obj);
  }
  return out;
}

/** The one object of `kind` (and `name`, if given); throws when there is none or more than one. */
export function one(manifests: Manifest[], kind: string, name?: string): Manifest {
  const hits = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (hits.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${hits.length}`);
  }
  return hits[0]!;
}

/** The agent container's env as name -> value (valueFrom entries as "<valueFrom>"). */
export function agentEnv(manifests: Manifest[]): Record<string, string> {
  const container = one(manifests, "Deployment").spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const e of container.env as Array<{ name: string; value?: string }>)
    env[e.name] = e.value ?? "<valueFrom>";
  return env;
}
