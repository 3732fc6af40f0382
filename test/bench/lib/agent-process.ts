// The agent as a benchmark drives it: a child process of the agent harness (the image's ENTRYPOINT
// and ENV on the bundle), read through its /metrics and the status the control plane received.
import type { ChildAgent, Harness } from "../../agent/harness.ts";
import { waitFor } from "../../agent/harness.ts";

/** The agent's flags in every benchmark: resync out of the way, the default concurrency. */
export const BENCH_AGENT_FLAGS = {
  resyncPeriodMs: "300000",
  kubeConcurrency: "10",
  workspaceConcurrency: "16",
};

export async function waitForLeader(h: Harness, agent: ChildAgent): Promise<void> {
  await waitFor(
    "the agent's stream",
    async () => (await h.cp.admin.streams()).streams.some((s) => s.stream === "agent"),
    60_000,
  );
  await waitFor(
    "the agent's /readyz",
    async () => (await fetch(`http://${agent.healthAddr}/readyz`).catch(() => undefined))?.status === 200,
    30_000,
  );
}

/** Every workspace reported SpecAligned=True by `identity`, and exactly `count` of them. */
export async function waitForConverged(
  h: Harness,
  identity: string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `${count} workspaces aligned by ${identity}`,
    async () => {
      const s = await h.cp.admin.getAgentStatus(h.agentId);
      if (s?.agent.identity !== identity || s.workspaces.length !== count) return false;
      return s.workspaces.every((w) =>
        w.conditions.some((c) => c.type === "SpecAligned" && c.status === "True"),
      );
    },
    timeoutMs,
  );
}

export async function metricsText(agent: ChildAgent): Promise<string> {
  return (await fetch(`http://${agent.healthAddr}/metrics`)).text();
}

/** The value of an unlabelled metric, 0 when absent. */
export async function scrape(agent: ChildAgent, name: string): Promise<number> {
  const line = (await metricsText(agent)).split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

/** Write requests to anything but the leader-election Lease. */
export async function workspaceWrites(agent: ChildAgent): Promise<number> {
  let n = 0;
  for (const line of (await metricsText(agent)).split("\n")) {
    const m = /^meridian_agent_kube_write_requests_total\{resource="([^"]+)"\} (\d+)/.exec(line);
    if (m && m[1] !== "leases") n += Number(m[2]);
  }
  return n;
}

/** Every series of one labelled counter: label value → count. */
export function counterByLabel(metrics: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}\\{${label}="([^"]*)"\\} (\\S+)$`, "gm");
  for (const m of metrics.matchAll(re)) out.set(m[1]!, Number(m[2]));
  return out;
}
