// Faults of the agent (two replicas, leader-elected, on their own node behind the fault proxy).
import { workspaceBody } from "../../e2e/workload.ts";
import { type Scenario, type ScenarioContext, sleep } from "../scenario.ts";
import { connectionsOf } from "../socket-owner.ts";
import { AGENT_ID, NAMESPACE, WS } from "../workload.ts";

let quotaCpu = 8;
/** A workspace change (its CPU quota) that the leader must reconcile. */
async function changeWorkspace(ctx: ScenarioContext): Promise<void> {
  quotaCpu = quotaCpu === 8 ? 9 : 8;
  const body = workspaceBody("fault campaign");
  await ctx.sys.cp.admin.putWorkspace(AGENT_ID, WS, {
    ...body,
    quota: { ...body.quota, cpu: String(quotaCpu) },
  });
}

/** The ResourceQuota carries the latest CPU quota: the change was applied, not lost with the leader. */
async function quotaApplied(ctx: ScenarioContext): Promise<string | undefined> {
  const res = await ctx.sys.cluster.request(
    "GET",
    `/api/v1/namespaces/mw-${WS}/resourcequotas/meridian-workspace-quota`,
  );
  const hard = (JSON.parse(res.body) as { spec?: { hard?: Record<string, string> } }).spec?.hard ?? {};
  const cpu = hard["limits.cpu"] ?? hard["requests.cpu"] ?? hard.cpu;
  return cpu === String(quotaCpu)
    ? undefined
    : `ResourceQuota cpu ${cpu}, expected ${quotaCpu}: the change was lost`;
}

/** Keeps a fault on for `ms` while the workspace changes, then lifts it. */
async function during(ctx: ScenarioContext, ms: number, on: () => void, off: () => void): Promise<void> {
  on();
  try {
    await sleep(2000);
    await changeWorkspace(ctx);
    await sleep(ms - 2000);
  } finally {
    off();
  }
}

export const agentScenarios: Scenario[] = [
  {
    name: "agent-leader-sigkill-mid-reconcile",
    proves:
      "a leader SIGKILLed while it reconciles a workspace change loses nothing: the other replica takes the Lease and applies the change, the killed one comes back as a follower",
    bounded: true,
    async run(ctx) {
      const leader = await ctx.leader();
      const done = await ctx.waitLogLine("agents", NAMESPACE, leader, /"msg":"reconciled workspace"/, 3000);
      await changeWorkspace(ctx);
      // The event reaches the leader within milliseconds and its reconcile takes tens: kill inside it.
      await sleep(Math.floor(Math.random() * 30));
      ctx.signalPod("agents", NAMESPACE, leader, "SIGKILL");
      const finished = await done().then(
        () => "after it had reconciled",
        () => "before it logged the reconcile's end",
      );
      ctx.note(`killed the leader ${leader} ${finished}`);
    },
    outcome: quotaApplied,
  },
  {
    name: "agents-both-sigkilled",
    proves:
      "with both replicas SIGKILLed at once (no agent at all for a while) the workspace and its Flink job keep running and a change made meanwhile is applied when an agent is back",
    async run(ctx) {
      const { agentPods, podName } = await import("../../e2e/observe.ts");
      for (const p of await agentPods(ctx.sys.cluster))
        ctx.signalPod("agents", NAMESPACE, podName(p), "SIGKILL");
      await changeWorkspace(ctx);
      await sleep(5000);
    },
    outcome: quotaApplied,
  },
  {
    name: "agents-apiserver-latency-1s",
    proves:
      "the API server 1 s away from the agents (both directions, 30 s, through the fault proxy): leadership may move but nothing is lost or done twice, and a change made meanwhile is applied",
    async run(ctx) {
      const p = ctx.sys.apiProxy;
      await during(
        ctx,
        30_000,
        () => p.setLatency(1000),
        () => p.setLatency(0),
      );
    },
    outcome: quotaApplied,
  },
  {
    name: "agents-apiserver-blackhole-20s",
    proves:
      "the agents cut off from the API server for 20 s but not from the control plane: the leader gives up its Lease, no agent acts on stale state, the job runs on, and the change made meanwhile is applied once the path heals",
    async run(ctx) {
      const p = ctx.sys.apiProxy;
      await during(
        ctx,
        20_000,
        () => p.blackhole(true),
        () => p.blackhole(false),
      );
    },
    outcome: quotaApplied,
  },
  {
    name: "agents-apiserver-reset-storm",
    proves:
      "every connection between the agents and the API server reset every 2 s for 20 s (watches, Lease renewals, applies): the agents re-dial and re-watch without deleting or recreating anything",
    async run(ctx) {
      const p = ctx.sys.apiProxy;
      let resets = 0;
      const timer = setInterval(() => {
        resets += p.resetAll();
      }, 2000);
      await during(
        ctx,
        20_000,
        () => {},
        () => clearInterval(timer),
      );
      ctx.note(`${resets} connections reset`);
    },
    outcome: quotaApplied,
  },
  {
    name: "leader-cut-off-from-apiserver-only",
    proves:
      "the leader alone cut off from the API server (its connections black-holed, its control-plane stream untouched) for 25 s: it stops acting when its Lease runs out, the other replica takes over and applies the change made meanwhile, and the old leader does nothing stale when the path heals",
    async run(ctx) {
      const leader = await ctx.leader();
      const pids = ctx.sys.agentsNode().podProcesses(NAMESPACE, leader);
      const p = ctx.sys.apiProxy;
      await during(
        ctx,
        25_000,
        () => p.blackhole(true, connectionsOf(pids, p.port)),
        () => p.blackhole(false),
      );
      ctx.note(`cut off ${leader}; leading after: ${await ctx.leader()}`);
    },
    outcome: quotaApplied,
  },
];
