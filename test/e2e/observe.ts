// Reading the running system the way an operator would: the agent pods and their Lease, the
// workspace agent, the Flink pods, the workspace credential Secret, and the processes the node
// simulator runs for each pod.
import { readFileSync } from "node:fs";
import type { V1Pod } from "@kubernetes/client-node";
import { LABEL_COMPONENT, LABEL_DEPLOYMENT } from "@meridian/shared/kube/labels";
import type { NodeSimulator } from "../cluster/node-simulator/index.ts";
import { AGENT_DEPLOYMENT, AGENT_SELECTOR, NAMESPACE } from "./chart.ts";
import { getJson, isReady, type Kubectl, listPods } from "./kube.ts";

export const WORKSPACE_AGENT_SELECTOR = `${LABEL_COMPONENT}=workspace-agent`;
export const WORKSPACE_AGENT_DEPLOYMENT = "meridian-workspace-agent";
export const WORKSPACE_CREDENTIAL_SECRET = "meridian-workspace-credential";

export const podName = (p: V1Pod) => p.metadata?.name ?? "";
export const podUid = (p: V1Pod) => p.metadata?.uid ?? "";

export function agentPods(k: Kubectl): Promise<V1Pod[]> {
  return listPods(k, NAMESPACE, AGENT_SELECTOR);
}

/** The Lease's holderIdentity, or undefined while nobody holds it. */
export async function leaseHolder(k: Kubectl): Promise<string | undefined> {
  const lease = await getJson<{ spec?: { holderIdentity?: string } }>(k, [
    "lease",
    "-n",
    NAMESPACE,
    AGENT_DEPLOYMENT,
  ]);
  return lease?.spec?.holderIdentity || undefined;
}

/** The pod a holder identity belongs to (identities are `<pod name>` or `<pod name>_<suffix>`). */
export function holderPod(holder: string | undefined, pods: V1Pod[]): V1Pod | undefined {
  if (!holder) return undefined;
  return pods.find((p) => holder === podName(p) || holder.startsWith(`${podName(p)}_`));
}

export function workspaceAgentPods(k: Kubectl, namespace: string): Promise<V1Pod[]> {
  return listPods(k, namespace, WORKSPACE_AGENT_SELECTOR);
}

/** JobManager and TaskManager pods of one Flink deployment. */
export async function flinkPods(
  k: Kubectl,
  namespace: string,
  deployment: string,
): Promise<{ jobManagers: V1Pod[]; taskManagers: V1Pod[] }> {
  const pods = await listPods(k, namespace, `${LABEL_DEPLOYMENT}=${deployment}`);
  const of = (c: string) => pods.filter((p) => p.metadata?.labels?.[LABEL_COMPONENT] === c);
  return { jobManagers: of("jobmanager"), taskManagers: of("taskmanager") };
}

/** The workspace token the agent stored for the workspace agent (decoded). */
export async function workspaceToken(k: Kubectl, namespace: string): Promise<string | undefined> {
  const secret = await getJson<{ data?: Record<string, string> }>(k, [
    "secret",
    "-n",
    namespace,
    WORKSPACE_CREDENTIAL_SECRET,
  ]);
  const b64 = secret?.data?.token;
  return b64 ? Buffer.from(b64, "base64").toString("utf8").trim() : undefined;
}

/** The command lines of the processes the simulator runs for a pod. */
export function podCommandLines(sim: NodeSimulator, namespace: string, name: string): string[] {
  return sim.podProcesses(namespace, name).map((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    } catch {
      return `(pid ${pid} gone)`;
    }
  });
}

/** Ready pods that are not being deleted, sorted by name. */
export const readyPods = (pods: V1Pod[]) =>
  pods.filter(isReady).sort((a, b) => podName(a).localeCompare(podName(b)));
