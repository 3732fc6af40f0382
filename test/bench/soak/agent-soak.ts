// The agent under churn: one agent process (the image's runtime, the chart's RBAC) on the local
// cluster and the reference control plane; N workspaces filled, then creates, updates (the quota's
// CPU) and deletes at a steady rate, while its memory, the status the control plane receives and
// every Namespace's generation are recorded. At the end the control plane's change log is held
// against what was applied (agent-checks.ts); then, optionally, the agent is restarted over the
// unchanged workspaces and its convergence time and writes are measured.
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LABEL_WORKSPACE, MANAGED_BY_AGENT, managedBySelector } from "@meridian/shared/kube/labels";
import { DEPLOYMENTS, NAMESPACES, RESOURCE_QUOTAS } from "@meridian/shared/kube/resources";
import { dropManagedFields, WatchCache } from "@meridian/shared/kube/watch-cache";
import { MAX_STATUS_BYTES } from "@meridian/shared/protocol/index";
import { recordedGeneration } from "../../../agent/src/workspace/objects.ts";
import { type ChildAgent, type Harness, startHarness } from "../../agent/harness.ts";
import type { WorkspaceBody } from "../../control-plane/index.ts";
import {
  BENCH_AGENT_FLAGS,
  counterByLabel,
  metricsText,
  scrape,
  waitForConverged,
  waitForLeader,
  workspaceWrites,
} from "../lib/agent-process.ts";
import { checkAgent, reportedWorkspaces } from "./agent-checks.ts";
import { Churn, type ChurnTarget } from "./churn.ts";
import { snapshotIds } from "./compare.ts";
import { readExpected } from "./expected.ts";
import { AppliedJournal } from "./journal.ts";
import { MemorySampler } from "./memory.ts";
import { runCourse, type SoakResult, type SoakRun, settle } from "./run.ts";
import { StatusWatch } from "./status-watch.ts";

export interface AgentSoakOptions extends SoakRun {
  workspaces: number;
  /** Restart the agent over the unchanged workspaces at the end. */
  restart: boolean;
  /** Lifetime of workspace credentials: long enough that none is refreshed during the run. */
  tokenTtlSeconds: number;
}

export interface AgentSoakResult extends SoakResult {
  reconnects: number;
  /** Snapshots received: 1 unless a new session began (leadership lost, a resume refused). */
  sessions: number;
  leadershipLost: number;
  restart?: {
    workspaces: number;
    convergeMs: number;
    writes: number;
    namespacesGoneSeconds: number;
    /** One-minute load average when the new agent started. */
    load: number;
  };
}

const PREFIX = "mw-";
const CPUS = ["1", "2", "3"];

const workspaces = (h: Harness): ChurnTarget<WorkspaceBody> => ({
  create: () => ({ quota: { cpu: CPUS[0]!, memory: "1Gi" } }),
  update: (b) => ({ ...b, quota: { ...b.quota, cpu: CPUS[(CPUS.indexOf(b.quota.cpu) + 1) % CPUS.length]! } }),
  put: async (id, body) => (await h.cp.admin.putWorkspace(h.agentId, id, body)).workspace.generation,
  del: (id) => h.cp.admin.deleteWorkspace(h.agentId, id),
});

export async function soakAgent(o: AgentSoakOptions): Promise<AgentSoakResult> {
  const log = o.log ?? (() => {});
  const h = await startHarness({ agentId: "soak", tokenTtlSeconds: o.tokenTtlSeconds });
  log("agent: cluster and control plane up");
  const stops: (() => unknown)[] = [];
  try {
    // The agent's own lease timings (15/10/2 s), not the harness's short ones for failover tests:
    // on a loaded machine those lose the Lease, and a new session folds events into a snapshot.
    const flags = {
      ...BENCH_AGENT_FLAGS,
      statusHeartbeatMs: String(o.heartbeatMs),
      leaseDurationMs: "15000",
      renewDeadlineMs: "10000",
      retryPeriodMs: "2000",
    };
    let agent: ChildAgent = h.spawnAgent({ identity: "soak-1", ...flags });
    await waitForLeader(h, agent);
    log("agent: leading, stream open; filling");
    const startId = (await h.cp.admin.streams()).headEventId;
    const managed = managedBySelector(MANAGED_BY_AGENT);
    const journal = new AppliedJournal({
      client: h.admin,
      type: NAMESPACES,
      labelSelector: managed,
      keyOf: (ns) => ns.metadata?.labels?.[LABEL_WORKSPACE],
      generationOf: recordedGeneration,
    });
    await journal.start();
    stops.push(() => journal.stop());
    // The objects that carry the spec, watched rather than listed at every check.
    const [quotas, deployments] = [RESOURCE_QUOTAS, DEPLOYMENTS].map((type) =>
      new WatchCache({ client: h.admin, type, labelSelector: managed, transform: dropManagedFields }).start(),
    );
    stops.push(
      () => quotas?.stop(),
      () => deployments?.stop(),
    );
    // The largest status document the control plane took: near MAX_STATUS_BYTES is a warning.
    let largestStatusBytes = 0;
    const watch = new StatusWatch(async () => {
      const a = await h.cp.admin.getAgent(h.agentId);
      largestStatusBytes = Math.max(largestStatusBytes, Buffer.byteLength(JSON.stringify(a.status)));
      const mine = a.status?.agent.identity === "soak-1";
      return { receivedAt: mine ? a.lastHeartbeatAt : null, items: reportedWorkspaces(a.status) };
    });
    watch.start();
    stops.push(() => watch.stop());
    const pid = agent.proc.pid ?? 0;
    const memory = new MemorySampler(pid, o.sampleEveryMs, () =>
      scrape(agent, "meridian_agent_nodejs_heap_size_used_bytes"),
    );
    stops.push(() => memory.stop());

    const churn = new Churn(workspaces(h), "soak-");
    const expected = () => readExpected(join(h.dir, "cp.db"), "agent", h.agentId, startId);
    const course = await runCourse(o, {
      what: "agent",
      churn,
      fill: { count: o.workspaces, concurrency: 20 },
      watch,
      memory,
      expected,
      check: async () =>
        checkAgent({
          expected: expected(),
          journal: journal.items,
          status: (await h.cp.admin.getAgent(h.agentId)).status,
          streamEvents: counterByLabel(
            await metricsText(agent),
            "meridian_agent_stream_events_total",
            "type",
          ),
          quotas: quotas!.list(),
          deployments: deployments!.list(),
          namespacePrefix: PREFIX,
          snapshots: snapshotIds(agent.lines),
        }),
    });
    log(
      `agent: largest status document received ${(largestStatusBytes / 1024).toFixed(0)} KiB (limit ${MAX_STATUS_BYTES / 1024} KiB)`,
    );
    const problems = [...course.problems];
    if (agent.proc.exitCode !== null) problems.push(`the agent exited with ${agent.proc.exitCode}`);
    const result: AgentSoakResult = {
      ...course,
      problems,
      reconnects: await scrape(agent, "meridian_agent_stream_reconnects_total"),
      sessions: snapshotIds(agent.lines).length,
      leadershipLost: agent.lines.filter((l) => l.includes("lost leadership")).length,
    };
    if (o.restart && problems.length === 0 && course.ops > 0) {
      // Deleted workspaces' Namespaces first finish terminating: the restart is over unchanged ones.
      const goneStart = Date.now();
      await settle(async () => {
        const left = journal
          .objects()
          .filter((ns) => churn.deleted.has(ns.metadata?.labels?.[LABEL_WORKSPACE] ?? ""));
        return left.length ? [`${left.length} deleted workspaces' Namespaces still terminating`] : [];
      }, o.settleTimeoutMs);
      const namespacesGoneSeconds = (Date.now() - goneStart) / 1000;
      agent.proc.kill("SIGTERM");
      await agent.exited;
      const restartAt = Date.now();
      const load = loadavg()[0]!;
      agent = h.spawnAgent({ identity: "soak-2", ...flags });
      await waitForConverged(h, "soak-2", churn.live.size, 120_000);
      const convergeMs = Date.now() - restartAt;
      await sleep(1000); // anything still being written would show up now
      const writes = await workspaceWrites(agent);
      result.restart = { workspaces: churn.live.size, convergeMs, writes, namespacesGoneSeconds, load };
    }
    return result;
  } finally {
    for (const stop of stops) await stop();
    await h.stop();
  }
}
