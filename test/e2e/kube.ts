// Small helpers over kubectl for the e2e test and the demo: typed reads, waits that fail with
// what the cluster looked like (pod list, events, the last log lines of the pods that matter).
import type { V1Pod } from "@kubernetes/client-node";
import type { Cluster } from "../cluster/index.ts";

/** Anything that runs kubectl: a Cluster, or a stand-in bound to a kubeconfig. */
export type Kubectl = Pick<Cluster, "kubectl">;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs kubectl; throws with its stderr unless it exits 0. */
export async function kubectlOk(k: Kubectl, args: string[], input?: string): Promise<string> {
  const res = await k.kubectl(args, input === undefined ? {} : { input });
  if (res.code !== 0)
    throw new Error(`kubectl ${args.join(" ")} failed (exit ${res.code}): ${res.stderr.trim()}`);
  return res.stdout;
}

/** `kubectl get … -o json`, parsed; undefined when the object does not exist. */
export async function getJson<T>(k: Kubectl, args: string[]): Promise<T | undefined> {
  const res = await k.kubectl(["get", ...args, "-o", "json"]);
  if (res.code !== 0) {
    if (/NotFound|not found/.test(res.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(" ")} failed (exit ${res.code}): ${res.stderr.trim()}`);
  }
  return JSON.parse(res.stdout) as T;
}

/** Pods in `namespace` matching the label selector (may be empty). */
export async function listPods(k: Kubectl, namespace: string, selector: string): Promise<V1Pod[]> {
  const list = await getJson<{ items: V1Pod[] }>(k, ["pods", "-n", namespace, "-l", selector]);
  return list?.items ?? [];
}

export const isReady = (pod: V1Pod): boolean =>
  !pod.metadata?.deletionTimestamp &&
  pod.status?.phase === "Running" &&
  (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** One line per pod: name, phase, ready, restarts, container states that are not running. */
export function describePods(pods: V1Pod[]): string {
  return pods
    .map((p) => {
      const cs = p.status?.containerStatuses ?? [];
      const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0);
      const waiting = cs
        .map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason)
        .filter(Boolean)
        .join(",");
      return `${p.metadata?.name} ${p.status?.phase} ready=${isReady(p)} restarts=${restarts}${waiting ? ` ${waiting}` : ""}`;
    })
    .join("; ");
}

/** Last `lines` lines of every container of the pods matching `selector` in `namespace`. */
export async function podLogTails(
  k: Kubectl,
  namespace: string,
  selector: string,
  lines = 15,
): Promise<string> {
  const pods = await listPods(k, namespace, selector).catch(() => []);
  const out: string[] = [];
  for (const pod of pods) {
    const name = pod.metadata?.name ?? "?";
    const res = await k.kubectl(["logs", "-n", namespace, name, "--all-containers", `--tail=${lines}`]);
    const text = res.code === 0 ? res.stdout.trimEnd() : `(no logs: ${res.stderr.trim()})`;
    out.push(`--- ${namespace}/${name}, last ${lines} lines:\n${text || "(empty)"}`);
  }
  return out.join("\n");
}

/** What to look at when a wait fails: every pod, recent events, and the logs of the pods in `logs`. */
export async function clusterDiagnostics(
  k: Kubectl,
  logs: Array<{ namespace: string; selector: string }> = [],
): Promise<string> {
  const parts: string[] = [];
  const pods = await k
    .kubectl(["get", "pods", "-A", "-o", "wide"])
    .catch((e: Error) => ({ stdout: e.message }));
  parts.push(`--- kubectl get pods -A:\n${pods.stdout.trimEnd()}`);
  const events = await k
    .kubectl(["get", "events", "-A", "--sort-by=.lastTimestamp"])
    .catch((e: Error) => ({ stdout: e.message }));
  parts.push(`--- last events:\n${events.stdout.trimEnd().split("\n").slice(-15).join("\n")}`);
  for (const l of logs) parts.push(await podLogTails(k, l.namespace, l.selector));
  return parts.filter(Boolean).join("\n");
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Appended to the timeout error (cluster state, log tails). */
  diagnose?: () => Promise<string>;
}

/**
 * Polls `check` until it returns something other than undefined/false. `check` may return a string
 * through `observe` to say what it saw last; that and any error it threw go into the timeout message.
 */
export async function waitFor<T>(
  what: string,
  check: (observe: (seen: string) => void) => Promise<T | undefined | false>,
  opts: WaitOptions,
): Promise<T> {
  const started = Date.now();
  let seen = "nothing yet";
  for (;;) {
    try {
      const value = await check((s) => {
        seen = s;
      });
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      seen = `error: ${(err as Error).message}`;
    }
    if (Date.now() - started > opts.timeoutMs) {
      const extra = opts.diagnose
        ? await opts.diagnose().catch((e: Error) => `(diagnostics failed: ${e.message})`)
        : "";
      throw new Error(
        `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${what}; last seen: ${seen}${extra ? `\n${extra}` : ""}`,
      );
    }
    await sleep(opts.intervalMs ?? 500);
  }
}
