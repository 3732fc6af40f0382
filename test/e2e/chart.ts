// Installing the chart into the local cluster the way a customer would (docs/install.md): the
// namespace and the token Secret first (the token stays out of Helm's release record), then
// `helm install` with the control plane's URL and agent id. The images stay the chart's defaults,
// the project's image names, which the node simulator runs as the real entry points.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { TEST_SIGNING_PUBLIC_KEY } from "../control-plane/signing.ts";
import { CHART_DIR, helm, NAMESPACE, RELEASE } from "../helm/helm.ts";
import { getJson, type Kubectl, kubectlOk } from "./kube.ts";

export { NAMESPACE, RELEASE };
/** The Secret holding the agent's token (existingSecret.name). */
export const TOKEN_SECRET = "meridian-agent-token";
/** The Deployment, ServiceAccount and Lease name for release "meridian-agent". */
export const AGENT_DEPLOYMENT = "meridian-agent";
export const AGENT_SELECTOR = "app.kubernetes.io/instance=meridian-agent,app.kubernetes.io/component=agent";

export interface InstallOptions {
  kubeconfig: string;
  /** Where the values file is written. */
  dir: string;
  controlPlaneUrl: string;
  agentId: string;
  logLevel?: string;
  replicas?: number;
  /** Further values, merged over the local ones key by key (the top level only). */
  extraValues?: Record<string, unknown>;
  /** The control plane's public keys to pin; default the reference control plane's test key. */
  signingPublicKeys?: string[];
}

/** Chart values for the local cluster; short leader-election timings so a roll hands over quickly. */
export function localValues(o: InstallOptions): Record<string, unknown> {
  return {
    controlPlane: {
      url: o.controlPlaneUrl,
      signingPublicKeys: o.signingPublicKeys ?? [TEST_SIGNING_PUBLIC_KEY],
    },
    agentId: o.agentId,
    existingSecret: { name: TOKEN_SECRET, key: "token" },
    replicas: o.replicas ?? 2,
    logLevel: o.logLevel ?? "info",
    leaderElection: { enabled: true, leaseDuration: "8s", renewDeadline: "5s", retryPeriod: "1s" },
    ...o.extraValues,
  };
}

/** Creates (or updates) Secrets a customer makes before `helm install`, each `{ key: value }`, in `namespace`. */
export async function applySecrets(
  k: Kubectl,
  namespace: string,
  secrets: Record<string, Record<string, string>>,
): Promise<void> {
  const items = Object.entries(secrets).map(([name, stringData]) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    type: "Opaque",
    stringData,
  }));
  await kubectlOk(k, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
}

/** Creates meridian-system and the token Secret (idempotent: apply). */
export async function createTokenSecret(k: Kubectl, token: string): Promise<void> {
  const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } };
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: TOKEN_SECRET, namespace: NAMESPACE },
    type: "Opaque",
    stringData: { token },
  };
  await kubectlOk(
    k,
    ["apply", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: [ns, secret] }),
  );
}

async function helmOk(args: string[], kubeconfig: string): Promise<string> {
  const res = await helm(args, { kubeconfig });
  if (res.code !== 0) throw new Error(`helm ${args[0]} failed (exit ${res.code}):\n${res.stderr.trim()}`);
  return res.stdout;
}

async function valuesFile(o: InstallOptions): Promise<string> {
  const path = join(o.dir, "meridian-values.yaml");
  await writeFile(path, stringify(localValues(o)));
  return path;
}

/** `helm install meridian-agent ./helm/meridian-agent -n meridian-system -f <values>`; returns NOTES. */
export async function helmInstall(o: InstallOptions): Promise<string> {
  return helmOk(["install", RELEASE, CHART_DIR, "-n", NAMESPACE, "-f", await valuesFile(o)], o.kubeconfig);
}

/** `helm upgrade` with the values file written again from `o` (as docs/install.md says: no --reuse-values). */
export async function helmUpgrade(o: InstallOptions): Promise<string> {
  return helmOk(["upgrade", RELEASE, CHART_DIR, "-n", NAMESPACE, "-f", await valuesFile(o)], o.kubeconfig);
}

/** `helm upgrade --install`: installs, or upgrades what is installed (re-running the demo). */
export async function helmUpgradeInstall(o: InstallOptions): Promise<string> {
  const values = await valuesFile(o);
  return helmOk(["upgrade", "--install", RELEASE, CHART_DIR, "-n", NAMESPACE, "-f", values], o.kubeconfig);
}

/** The token in the agent's Secret, if it exists (so a re-run keeps the token the agent uses). */
export async function existingAgentToken(k: Kubectl): Promise<string | undefined> {
  const secret = await getJson<{ data?: Record<string, string> }>(k, [
    "secret",
    "-n",
    NAMESPACE,
    TOKEN_SECRET,
  ]);
  const b64 = secret?.data?.token;
  return b64 ? Buffer.from(b64, "base64").toString("utf8") : undefined;
}

export async function helmUninstall(kubeconfig: string): Promise<string> {
  return helmOk(["uninstall", RELEASE, "-n", NAMESPACE], kubeconfig);
}

/** The command a person would type for the same install (printed by the demo). */
export function installCommand(valuesPath: string): string {
  return `helm install ${RELEASE} ./helm/meridian-agent -n ${NAMESPACE} -f ${valuesPath}`;
}
