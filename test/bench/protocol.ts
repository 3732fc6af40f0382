// `npm run bench -- protocol [events] [changes]`: how fast desired state flows from the reference
// control plane to the shared StreamClient on loopback. The control plane runs in its own process
// (as in production), so client and server do not share an event loop.
//  - live: N workspace upserts through the admin API (32 in parallel, from a worker thread so the
//    writer does not share the client's event loop) while the client is connected; events/s as the
//    client receives them (bounded by how fast the control plane accepts admin writes).
//  - replay: a client resumes from before those N events; the server replays them from its change
//    log as fast as it can write: events/s from dial to the last event.
//  - latency: M sequential admin changes; time from sending the PUT to the event at the client.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { agentStream, createDispatcher } from "@meridian/shared/controlplane/index";
import { AdminClient } from "../control-plane/admin-client.ts";

const WORKSPACE = { quota: { cpu: "4", memory: "8Gi" } };

async function startServer(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ["test/control-plane/main.ts", "--port", "0", "--db", join(dir, "cp.db"), "--change-log-limit", "100000"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const l = JSON.parse(line) as { msg?: string; url?: string };
    if (l.msg === "control plane ready" && l.url) return { url: l.url, child };
  }
  throw new Error("the control plane exited before it was ready; run `npm run control-plane` to see why");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Writes `n` upserts through the admin API from a worker thread, `concurrency` at a time. */
function writeInWorker(url: string, n: number, concurrency: number): Promise<void> {
  const adminModule = pathToFileURL(join(import.meta.dirname, "../control-plane/admin-client.ts")).href;
  const code = `
    const { workerData: w, parentPort } = require("node:worker_threads");
    import(w.adminModule).then(async ({ AdminClient }) => {
      const admin = new AdminClient(w.url);
      let next = 0;
      await Promise.all(Array.from({ length: w.concurrency }, async () => {
        while (next < w.n) {
          const i = next++;
          await admin.putWorkspace("bench", "bench-" + (i % 100), { ...w.workspace, displayName: "v" + i });
        }
      }));
      parentPort.postMessage("done");
    });`;
  const worker = new Worker(code, {
    eval: true,
    workerData: { adminModule, url, n, concurrency, workspace: WORKSPACE },
  });
  return new Promise((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
}

interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** p50 of the admin PUT's own round trip, for comparison: the server's write path. */
  putP50: number;
}

/** `n` sequential changes: time from sending the PUT to the event at the client. */
async function measureLatency(admin: AdminClient, arrivals: Map<string, number>, n: number, tag: string) {
  const toEvent: number[] = [];
  const toAnswer: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const put = await admin.putWorkspace("bench", "bench-0", { ...WORKSPACE, displayName: `${tag}${i}` });
    toAnswer.push(performance.now() - t0);
    const id = put.eventId!;
    while (!arrivals.has(id)) await new Promise((r) => setImmediate(r));
    toEvent.push(arrivals.get(id)! - t0);
  }
  toEvent.sort((a, b) => a - b);
  toAnswer.sort((a, b) => a - b);
  const ms = (v: number) => +v.toFixed(2);
  return {
    p50: ms(percentile(toEvent, 50)),
    p95: ms(percentile(toEvent, 95)),
    p99: ms(percentile(toEvent, 99)),
    max: ms(toEvent.at(-1)!),
    putP50: ms(percentile(toAnswer, 50)),
  } satisfies Latency;
}

const fmt = (l: Latency) =>
  `p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms (admin PUT answer p50 ${l.putP50} ms)`;

export async function run(args: string[]): Promise<void> {
  const events = Number(args[0] ?? 20_000);
  const changes = Number(args[1] ?? 500);
  const dir = await mkdtemp(join(tmpdir(), "meridian-bench-"));
  const { url, child } = await startServer(dir);
  const dispatcher = createDispatcher({ proxy: {} });
  try {
    const admin = new AdminClient(url);
    const { token } = await admin.createAgent("bench");
    for (let w = 0; w < 100; w++) await admin.putWorkspace("bench", `bench-${w}`, WORKSPACE);
    const endpoint = { baseUrl: url, dispatcher, tokens: { token: async () => token } };

    const live = agentStream(endpoint, "bench");
    const arrivals = new Map<string, number>();
    live.on("event", ({ event }) => arrivals.set(event.id!, performance.now()));
    const snapshot = new Promise<string>((r) => live.once("snapshot", ({ event }) => r(event.id!)));
    live.start();
    await snapshot;

    // latency while the change log is nearly empty
    const fresh = await measureLatency(admin, arrivals, changes, "a");

    // live throughput
    const before = live.lastEventId!;
    const startSize = arrivals.size;
    const putStart = performance.now();
    await writeInWorker(url, events, 32);
    const putMs = performance.now() - putStart;
    while (arrivals.size < startSize + events) await new Promise((r) => setTimeout(r, 5));
    const times = [...arrivals.values()].slice(startSize);
    const liveRate = events / ((Math.max(...times) - Math.min(...times)) / 1000);

    // replay throughput
    const replay = agentStream(endpoint, "bench", { lastEventId: before });
    let replayed = 0;
    const done = new Promise<number>((r) =>
      replay.on("event", () => {
        if (++replayed === events) r(performance.now());
      }),
    );
    const dialAt = performance.now();
    replay.start();
    const replayMs = (await done) - dialAt;
    await replay.stop();

    // latency with the change log holding the whole run
    const loaded = await measureLatency(admin, arrivals, changes, "b");
    await live.stop();

    const result = {
      liveEventsPerSecond: Math.round(liveRate),
      adminWritesPerSecond: Math.round(events / (putMs / 1000)),
      replayEventsPerSecond: Math.round(events / (replayMs / 1000)),
      latencyFreshMs: fresh,
      latencyLoadedMs: loaded,
      events,
      changes,
      rejected: live.rejectedEvents.count + replay.rejectedEvents.count,
    };
    const ok = fresh.p50 <= 5 && fresh.p95 <= 20 && result.replayEventsPerSecond >= 5000;
    process.stdout.write(
      `protocol: ${events} upserts, ${changes} sequential changes per latency run, control plane in its own process\n` +
        `  latency, empty change log      ${fmt(fresh)}\n` +
        `  live     ${result.liveEventsPerSecond} events/s at the client (the admin API accepted ${result.adminWritesPerSecond} writes/s)\n` +
        `  replay   ${result.replayEventsPerSecond} events/s (resume from before the ${events})\n` +
        `  latency, ${events} changes logged  ${fmt(loaded)}\n` +
        `  goals    p50 <= 5 ms, p95 <= 20 ms, >= 5000 events/s (replay): ${ok ? "met" : "NOT met"}\n` +
        `${JSON.stringify(result)}\n`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await dispatcher.close();
    await rm(dir, { recursive: true, force: true });
  }
}
