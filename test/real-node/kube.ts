// Small kubectl helpers for the real-node suite: apply a manifest, wait for a pod, read a pod's
// status, each failing with the pod's description so a failure says why.
import type { Cluster } from "../cluster/index.ts";

export async function apply(cluster: Cluster, manifest: unknown): Promise<void> {
  const docs = Array.isArray(manifest) ? manifest : [manifest];
  const input = docs.map((d) => JSON.stringify(d)).join("\n");
  const res = await cluster.kubectl(["apply", "-f", "-"], { input });
  if (res.code !== 0) throw new Error(`kubectl apply failed: ${res.stderr}`);
}

export async function kubectlOk(cluster: Cluster, args: string[], timeoutMs = 60_000): Promise<string> {
  const res = await cluster.kubectl(args, { timeoutMs });
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

/** Runs `code` with the image's Node (`kubectl exec ... /nodejs/bin/node -e`); its trimmed output. */
export async function nodeEval(cluster: Cluster, ns: string, pod: string, code: string): Promise<string> {
  return (await kubectlOk(cluster, ["-n", ns, "exec", pod, "--", "/nodejs/bin/node", "-e", code])).trim();
}

export interface PodStatus {
  phase?: string;
  podIP?: string;
  containerStatuses?: {
    name: string;
    ready: boolean;
    restartCount: number;
    state?: {
      running?: object;
      terminated?: { reason?: string; exitCode?: number };
      waiting?: { reason?: string };
    };
    lastState?: { terminated?: { reason?: string; exitCode?: number } };
  }[];
}

export async function podStatus(cluster: Cluster, ns: string, name: string): Promise<PodStatus> {
  const out = await kubectlOk(cluster, ["-n", ns, "get", "pod", name, "-o", "json"]);
  return (JSON.parse(out) as { status: PodStatus }).status;
}

/** Polls until `check` returns a value; on timeout throws with `kubectl describe` of the pod. */
export async function waitForPod<T>(
  cluster: Cluster,
  ns: string,
  name: string,
  what: string,
  check: (s: PodStatus) => T | undefined,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = check(await podStatus(cluster, ns, name));
      if (v !== undefined) return v;
    } catch {
      // not created yet
    }
    if (Date.now() > deadline) {
      const d = await cluster.kubectl(["-n", ns, "describe", "pod", name]);
      throw new Error(`pod ${ns}/${name}: timed out waiting for ${what}\n${d.stdout}${d.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const running = (s: PodStatus) =>
  s.phase === "Running" && (s.containerStatuses ?? []).every((c) => c.ready) ? s : undefined;

/** A pod's security settings as Meridian's own pods have them. */
export const restricted = {
  pod: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
  container: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  },
};

export interface PodList {
  items: {
    metadata: { name: string };
    spec: { terminationGracePeriodSeconds?: number };
    status: { phase?: string; containerStatuses?: { ready: boolean }[] };
  }[];
}

export async function podList(cluster: Cluster, ns: string, selector: string): Promise<PodList> {
  return JSON.parse(
    await kubectlOk(cluster, ["-n", ns, "get", "pods", "-l", selector, "-o", "json"]),
  ) as PodList;
}

/** Waits until exactly `count` pods match `selector` and all are Running and ready; their names. */
export async function readyPods(
  cluster: Cluster,
  ns: string,
  selector: string,
  count: number,
  timeoutMs = 180_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await podList(cluster, ns, selector);
    const ready = list.items.filter(
      (p) => p.status.phase === "Running" && p.status.containerStatuses?.every((c) => c.ready),
    );
    if (ready.length === count && list.items.length === count) return ready.map((p) => p.metadata.name);
    if (Date.now() > deadline) {
      const d = await cluster.kubectl(["-n", ns, "describe", "pods", "-l", selector]);
      throw new Error(`timed out waiting for ${count} Ready pods ${selector} in ${ns}\n${d.stdout}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
