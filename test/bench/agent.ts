// `npm run bench -- agent [workspaces=200] [latencySamples=50]`: the agent as a real process under
// its own ServiceAccount, against the local cluster and the reference control plane.
//   (a) workspace PUT through the control plane's API → its Deployment exists: p50/p95 (goals 100/300 ms)
//   (b) agent restart with N workspaces in place: time to converge, write requests (goals ≤ 5 s, 0)
//   (c) the agent's resident memory with N workspaces (goal ≤ 150 MB)
// Exits non-zero when a goal is missed. Figures go to docs/performance.md, section "Agent".
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { applyObject } from "@meridian/shared/kube/apply";
import { MANAGED_BY_AGENT, managedBySelector } from "@meridian/shared/kube/labels";
import { DEPLOYMENTS, NAMESPACES } from "@meridian/shared/kube/resources";
import { WatchCache } from "@meridian/shared/kube/watch-cache";
import { startHarness, waitFor } from "../agent/harness.ts";
import {
  BENCH_AGENT_FLAGS,
  scrape,
  waitForConverged,
  waitForLeader,
  workspaceWrites,
} from "./lib/agent-process.ts";
import { percentile, report } from "./lib/stats.ts";

const QUOTA = { cpu: "1", memory: "1Gi" };

export async function run(args: string[]): Promise<void> {
  const total = Number(args[0] ?? 200);
  const samples = Math.min(Math.floor(total / 2), Number(args[1] ?? 50));
  const started = Date.now();
  const h = await startHarness({ agentId: "bench" });
  let failed = false;
  try {
    const flags = BENCH_AGENT_FLAGS;
    const first = h.spawnAgent({ identity: "bench-1", ...flags });
    await waitForLeader(h, first);

    // (a) latency, one workspace at a time.
    const seen = new Map<string, number>();
    const watch = new WatchCache({
      client: h.admin,
      type: DEPLOYMENTS,
      labelSelector: managedBySelector(MANAGED_BY_AGENT),
    });
    watch.on((e) => {
      if (e.type === "added") seen.set(e.object.metadata?.namespace ?? "", performance.now());
    });
    watch.start();
    await watch.waitForSync();
    // Each workspace alone (the previous one's remaining writes done: a short pause), then the
    // same back to back (the next PUT as soon as the previous Deployment exists).
    const measure = async (prefix: string, pauseMs: number) => {
      const out: number[] = [];
      for (let i = 0; i < samples; i++) {
        const id = `${prefix}-${i}`;
        const t0 = performance.now();
        await h.cp.admin.putWorkspace(h.agentId, id, { quota: QUOTA });
        await waitFor(`${id}'s Deployment`, () => seen.has(`mw-${id}`), 30_000);
        out.push(seen.get(`mw-${id}`)! - t0);
        if (pauseMs) await sleep(pauseMs);
      }
      return out;
    };
    const latencies = await measure("lat", 500);
    const backToBack = await measure("b2b", 0);
    // The floor on this machine right now: the same two sequential writes (Namespace, then
    // Deployment) made directly by the benchmark as admin, seen by the same watch.
    const floor: number[] = [];
    for (let i = 0; i < Math.min(samples, 20); i++) {
      const ns = `floor-${i}`;
      const t0 = performance.now();
      await applyObject(
        h.admin,
        NAMESPACES,
        { metadata: { name: ns, labels: managed } },
        { fieldManager: "bench" },
      );
      await applyObject(h.admin, DEPLOYMENTS, floorDeployment(ns), { fieldManager: "bench" });
      await waitFor(`${ns}'s Deployment`, () => seen.has(ns), 30_000);
      floor.push(seen.get(ns)! - t0);
    }
    await watch.stop();
    report(
      `    (floor: Namespace then Deployment applied directly, ${floor.length} times: p50 ${percentile(floor, 50).toFixed(0)} ms, p95 ${percentile(floor, 95).toFixed(0)} ms; load average ${loadavg()[0]?.toFixed(1)})`,
    );
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    report(
      `    (back to back, ${samples} more: p50 ${percentile(backToBack, 50).toFixed(0)} ms, p95 ${percentile(backToBack, 95).toFixed(0)} ms)`,
    );
    report(
      `(a) PUT workspace → Deployment exists, ${samples} workspaces one at a time: p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms (goals 100 / 300 ms)`,
    );
    failed ||= p50 > 100 || p95 > 300;

    // Fill up to `total` workspaces and let the agent converge, sampling its memory meanwhile.
    const fillStart = Date.now();
    let peak = 0;
    const sampler = setInterval(() => {
      void scrape(first, "meridian_agent_process_resident_memory_bytes").then((v) => {
        peak = Math.max(peak, v);
      });
    }, 500);
    const ids = Array.from({ length: total - 2 * samples }, (_, i) => `ws-${i}`);
    for (let i = 0; i < ids.length; i += 20)
      await Promise.all(
        ids.slice(i, i + 20).map((id) => h.cp.admin.putWorkspace(h.agentId, id, { quota: QUOTA })),
      );
    await waitForConverged(h, "bench-1", total, 600_000);
    clearInterval(sampler);
    report(`    (filling to ${total} workspaces took ${((Date.now() - fillStart) / 1000).toFixed(1)} s)`);

    // (c) memory with `total` workspaces at rest: V8 gives the creation burst's garbage back only
    // after its idle-time GC (10–20 s later), so wait 30 s, then take the median of five samples.
    await sleep(30_000);
    const rssSamples: number[] = [];
    for (let i = 0; i < 5; i++) {
      rssSamples.push(await scrape(first, "meridian_agent_process_resident_memory_bytes"));
      await sleep(1000);
    }
    const rss = percentile(rssSamples, 50);
    const heap = await scrape(first, "meridian_agent_nodejs_heap_size_used_bytes");
    const mb = (b: number) => (b / 2 ** 20).toFixed(0);
    report(
      `(c) resident memory with ${total} workspaces at rest: ${mb(rss)} MB (heap used ${mb(heap)} MB; peak while creating them ${mb(peak)} MB) (goal ≤ 150 MB)`,
    );
    failed ||= rss > 150 * 2 ** 20;

    // (b) restart: stop the leader gracefully, start a new agent, time to converged status.
    first.proc.kill("SIGTERM");
    await first.exited;
    const restartAt = Date.now();
    const second = h.spawnAgent({ identity: "bench-2", ...flags });
    await waitForConverged(h, "bench-2", total, 60_000);
    const convergeMs = Date.now() - restartAt;
    await sleep(1000); // anything still being written would show up now
    const writes = await workspaceWrites(second);
    report(
      `(b) restart with ${total} workspaces in place: converged in ${(convergeMs / 1000).toFixed(2)} s, ${writes} write requests (goals ≤ 5 s, 0)`,
    );
    failed ||= convergeMs > 5000 || writes !== 0;
    report(`total benchmark time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await h.stop();
  }
  if (failed) {
    report("a goal was missed");
    process.exitCode = 1;
  }
}

const managed = { "app.kubernetes.io/managed-by": MANAGED_BY_AGENT };

function floorDeployment(ns: string) {
  const labels = { app: "floor", ...managed };
  return {
    metadata: { name: "floor", namespace: ns, labels },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: "floor" } },
      template: { metadata: { labels }, spec: { containers: [{ name: "c", image: "busybox" }] } },
    },
  };
}
