// Invariants (c), (d) and (e) of the fault campaign, read the way an operator would:
//  (c) convergence: the control plane (its admin API) hears, after the fault, the agent report the
//      workspace Ready and the workspace agent report every deployment SpecAligned with its job RUNNING;
//  (d) no secret in any log: every pod log the node simulators wrote (every container instance, the
//      killed ones too) and the control plane's log, searched for every token the harness knows;
//  (e) no crash loop: container restarts of the agents and the workspace agent beyond the ones the
//      scenario caused by killing them, and no container left waiting.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { listPods } from "../e2e/kube.ts";
import { assertNoCredential, type Credential } from "../e2e/logs.ts";
import type { CampaignSystem } from "./system.ts";
import { AGENT_ID, AGENT_SELECTOR, NAMESPACE, WS, WS_NS } from "./workload.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const after = (iso: string | null | undefined, since: number) => Date.parse(iso ?? "") > since;

/** Undefined when converged, else what is still missing. */
export async function notConverged(sys: CampaignSystem, since: number): Promise<string | undefined> {
  const admin = sys.cp.admin;
  const agent = await admin.getAgent(AGENT_ID);
  if (!after(agent.lastHeartbeatAt, since)) return "no agent status since the fault ended";
  const ws = agent.status?.workspaces.find((w) => w.id === WS);
  if (ws?.phase !== "Ready") return `workspace phase ${ws?.phase ?? "unreported"}`;
  const record = await admin.getWorkspace(WS);
  if (!after(record.lastHeartbeatAt, since)) return "no workspace agent status since the fault ended";
  for (const d of await admin.listDeployments(WS)) {
    const s = await admin.getDeploymentStatus(WS, d.name);
    const cond = (t: string) => s?.conditions.find((c) => c.type === t);
    if (d.state === "RUNNING" && s?.job.state !== "RUNNING")
      return `${d.name}: job ${s?.job.state ?? "unreported"}`;
    if (cond("SpecAligned")?.status !== "True") {
      return `${d.name}: SpecAligned ${cond("SpecAligned")?.status} ${cond("SpecAligned")?.reason ?? ""}`.trim();
    }
    if (cond("Healthy")?.status !== "True") {
      return `${d.name}: Healthy ${cond("Healthy")?.status} ${cond("Healthy")?.reason ?? ""}`.trim();
    }
    if (cond("Ready")?.status !== "True")
      return `${d.name}: Ready ${cond("Ready")?.status} ${cond("Ready")?.reason}`;
    if ((s?.observedGeneration ?? 0) < d.generation)
      return `${d.name}: observed generation ${s?.observedGeneration}`;
  }
  return undefined;
}

/** Milliseconds from `since` until converged, or the reason it did not within `timeoutMs`. */
export async function waitConverged(
  sys: CampaignSystem,
  since: number,
  timeoutMs: number,
): Promise<{ ms: number } | { timedOut: string }> {
  let last = "nothing read yet";
  while (Date.now() - since < timeoutMs) {
    try {
      // One look at most 10 s: a control plane that does not answer must not stall the wait.
      const missing = await Promise.race([
        notConverged(sys, since),
        sleep(10_000).then(() => "the control plane's admin API did not answer within 10 s"),
      ]);
      if (missing === undefined) return { ms: Date.now() - since };
      last = missing;
    } catch (err) {
      last = `error: ${(err as Error).message}`;
    }
    await sleep(500);
  }
  return { timedOut: last };
}

async function logFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith(".log")).map((e) => join(e.parentPath, e.name));
}

/** Every log file that holds a credential, with the credential's name (never its value). */
export async function secretsInLogs(sys: CampaignSystem, credentials: Credential[]): Promise<string[]> {
  const files = [sys.cp.logPath, ...(await Promise.all(sys.logDirs().map(logFiles))).flat()];
  const found: string[] = [];
  for (const f of files) {
    const text = await readFile(f, "utf8").catch(() => "");
    try {
      assertNoCredential(text, credentials, f.slice(sys.dir.length + 1));
    } catch (err) {
      found.push((err as Error).message);
    }
  }
  return found;
}

export interface Restarts {
  /** Container restarts per pod name. */
  counts: Map<string, number>;
  /** Containers not running (waiting, terminated), as `pod: reason`. */
  notRunning: string[];
}

const restartSum = (p: V1Pod) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);

/** Restart counts and container states of the agents and the workspace agent. */
export async function agentRestarts(sys: CampaignSystem): Promise<Restarts> {
  const pods = [
    ...(await listPods(sys.cluster, NAMESPACE, AGENT_SELECTOR)),
    ...(await listPods(sys.cluster, WS_NS, "app.kubernetes.io/component=workspace-agent")),
  ].filter((p) => !p.metadata?.deletionTimestamp);
  const counts = new Map(pods.map((p) => [p.metadata?.name ?? "", restartSum(p)]));
  const notRunning = pods.flatMap((p) =>
    (p.status?.containerStatuses ?? [])
      .filter((c) => !c.state?.running)
      .map(
        (c) =>
          `${p.metadata?.name}: ${c.state?.waiting?.reason ?? c.state?.terminated?.reason ?? "not running"}`,
      ),
  );
  return { counts, notRunning };
}

/**
 * Restarts the scenario did not cause: more than one beyond its own kills of a pod is a crash loop
 * (one is allowed: an agent that loses its API server may exit on purpose and be restarted).
 */
export function crashLoops(before: Restarts, now: Restarts, killed: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [pod, n] of now.counts) {
    const extra = n - (before.counts.get(pod) ?? 0) - (killed.get(pod) ?? 0);
    if (extra > 1) out.push(`${pod} restarted ${extra} times on its own`);
  }
  return [...out, ...now.notRunning];
}
