import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { DeploymentContext } from "./objects.ts";
import { PodBackoff, planPods } from "./pods.ts";
import { specOf } from "./spec.testutil.ts";

const ctx: DeploymentContext = {
  workspaceId: "w",
  namespace: "mw-w",
  savepointBaseDir: undefined,
  spec: specOf({ parallelism: 2 }),
};
const owner = { name: "orders-flink-config", uid: "u" };
const run = { id: 2, specHash: "h" };

function pod(
  name: string,
  opts: { run?: number; phase?: string; deleting?: boolean; startedMsAgo?: number } = {},
): V1Pod {
  const now = Date.now();
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      annotations: { "meridian.dev/run": String(opts.run ?? 2) },
      ...(opts.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status: {
      phase: opts.phase ?? "Running",
      ...(opts.startedMsAgo !== undefined ? { startTime: new Date(now - opts.startedMsAgo) } : {}),
    },
  };
}

const names = (p: ReturnType<typeof planPods>, type: string) =>
  p.actions
    .filter((a) => a.type === type)
    .map((a) => (a.type === "create" ? a.pod.metadata?.name : a.type === "delete" ? a.name : ""));

test("missing pods are created: one JobManager and N TaskManagers", () => {
  const p = planPods({
    ctx,
    owner,
    run,
    replicas: 2,
    observed: [],
    backoff: new PodBackoff(),
    now: Date.now(),
  });
  assert.deepEqual(names(p, "create"), ["orders-jobmanager", "orders-taskmanager-0", "orders-taskmanager-1"]);
  assert.equal(p.requeueMs, undefined);
});

test("a failed pod is deleted; its recreation backs off after repeated failures", () => {
  const backoff = new PodBackoff();
  const now = 1_000_000;
  const observed = [
    pod("orders-jobmanager"),
    pod("orders-taskmanager-0", { phase: "Failed" }),
    pod("orders-taskmanager-1"),
  ];
  const p1 = planPods({ ctx, owner, run, replicas: 2, observed, backoff, now });
  assert.deepEqual(names(p1, "delete"), ["orders-taskmanager-0"]);
  assert.deepEqual(names(p1, "create"), [], "recreated once the deletion is seen");
  // Gone: the first recreation is immediate.
  const p2 = planPods({ ctx, owner, run, replicas: 2, observed: [observed[0]!, observed[2]!], backoff, now });
  assert.deepEqual(names(p2, "create"), ["orders-taskmanager-0"]);
  assert.equal(p2.actions[0]?.type === "create" && p2.actions[0].recreate, true);
  // Fails again: now it waits.
  planPods({ ctx, owner, run, replicas: 2, observed, backoff, now: now + 10 });
  const p3 = planPods({
    ctx,
    owner,
    run,
    replicas: 2,
    observed: [observed[0]!, observed[2]!],
    backoff,
    now: now + 20,
  });
  assert.deepEqual(names(p3, "create"), []);
  assert.ok(p3.requeueMs !== undefined && p3.requeueMs > 0 && p3.requeueMs <= 1000);
});

test("pods of an older run and TaskManagers beyond the count are deleted; terminating ones are awaited", () => {
  const observed = [
    pod("orders-jobmanager", { run: 1 }),
    pod("orders-taskmanager-0"),
    pod("orders-taskmanager-1", { deleting: true }),
    pod("orders-taskmanager-2"),
  ];
  const p = planPods({ ctx, owner, run, replicas: 2, observed, backoff: new PodBackoff(), now: Date.now() });
  assert.deepEqual(names(p, "delete").sort(), ["orders-jobmanager", "orders-taskmanager-2"]);
  assert.deepEqual(names(p, "create"), []);
});

test("a pod running for a while clears its failure count", () => {
  const backoff = new PodBackoff();
  backoff.failed("orders-taskmanager-0", 0);
  backoff.failed("orders-taskmanager-0", 0);
  assert.equal(backoff.failures("orders-taskmanager-0"), 2);
  planPods({
    ctx,
    owner,
    run,
    replicas: 1,
    observed: [pod("orders-jobmanager"), pod("orders-taskmanager-0", { startedMsAgo: 120_000 })],
    backoff,
    now: Date.now(),
  });
  assert.equal(backoff.failures("orders-taskmanager-0"), 0);
});

test("a deployment's failures are forgotten without touching a deployment whose name extends it", () => {
  const b = new PodBackoff();
  b.failed("orders-jobmanager", 0);
  b.failed("orders-taskmanager-3", 0);
  b.failed("orders-2-jobmanager", 0);
  b.forgetDeployment("orders");
  assert.equal(b.failures("orders-jobmanager"), 0);
  assert.equal(b.failures("orders-taskmanager-3"), 0);
  assert.equal(b.failures("orders-2-jobmanager"), 1);
});

test("pod recreation: the first is immediate, later ones wait a full-jitter delay above a floor, capped at a minute", () => {
  const low = new PodBackoff(() => 0);
  const high = new PodBackoff(() => 0.999999);
  const lows = Array.from({ length: 10 }, () => low.failed("orders-jobmanager", 0));
  const highs = Array.from({ length: 10 }, () => high.failed("orders-jobmanager", 0));
  assert.deepEqual(lows, [0, 250, 250, 250, 250, 250, 250, 250, 250, 250], "never a tight loop");
  assert.deepEqual(highs, [0, 999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999, 59_999]);
  assert.equal(low.waitMs("orders-jobmanager", 100), 150);
});

test("a failed pod's termination reason is remembered for its deployment until it runs healthy", () => {
  const backoff = new PodBackoff();
  const oom = pod("orders-jobmanager", { phase: "Failed" });
  oom.spec = { containers: [{ name: "jobmanager", resources: { limits: { memory: "300Mi" } } }] };
  oom.status!.containerStatuses = [
    {
      name: "jobmanager",
      image: "flink",
      imageID: "",
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode: 137, reason: "OOMKilled" } },
    },
  ];
  planPods({ ctx, owner, run, replicas: 0, observed: [oom], backoff, now: 0 });
  assert.deepEqual(backoff.failuresOf("orders"), [
    { pod: "orders-jobmanager", failure: { reason: "OOMKilled", exitCode: 137, memoryLimit: "300Mi" } },
  ]);
  assert.deepEqual(backoff.failuresOf("orders-2"), [], "another deployment's pods are not its own");
  backoff.healthy("orders-jobmanager");
  assert.deepEqual(backoff.failuresOf("orders"), []);
});
