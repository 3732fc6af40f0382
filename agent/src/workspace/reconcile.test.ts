// The orphan step of the reconcile function: the deadline comes from the mark on the namespace (not
// from when this agent first saw the orphan), and "look again" is the Result's requeueAfterMs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ANNOTATION_ORPHANED_SINCE } from "@meridian/shared/controller/orphan";
import type { ReconcileContext } from "@meridian/shared/controller/result";
import type { KubeClient } from "@meridian/shared/kube/client";
import type { EventRecorder } from "@meridian/shared/kube/events";
import type { KubeObject } from "@meridian/shared/kube/resources";
import { silentLogger } from "@meridian/shared/log";
import type { RefusedItem } from "@meridian/shared/protocol/index";
import type { OwnedCaches } from "../caches.ts";
import { DesiredState } from "../desired.ts";
import type { AgentMetrics } from "../metrics.ts";
import type { ApplyDeps } from "./apply.ts";
import { DEFAULT_POD_SECURITY } from "./hardening.ts";
import { AMBIGUOUS_RECHECK_MS, workspaceReconciler } from "./reconcile.ts";
import { WorkspaceRecords } from "./record.ts";

const NOW = Date.parse("2026-12-06T10:00:00.000Z");
const GRACE_MS = 60_000;

function setup(markedAgoMs: number, refused: RefusedItem[] = []) {
  const ns: KubeObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: "mw-a",
      annotations: { [ANNOTATION_ORPHANED_SINCE]: new Date(NOW - markedAgoMs).toISOString() },
    },
  };
  const caches = { get: (_t: unknown, _ns: unknown, name: string) => (name === "mw-a" ? ns : undefined) };
  const desired = new DesiredState();
  const change = desired.apply(
    { type: "snapshot", id: "1", data: { workspaces: [], refused } },
    { ids: () => ["a"], generation: () => undefined },
  );
  const records = new WorkspaceRecords();
  for (const id of change.orphanCandidates) records.ensure(id).orphanCandidate = true;
  const writes: string[] = [];
  const kube = new Proxy({}, { get: (_o, verb) => () => writes.push(String(verb)) }) as KubeClient;
  const lifecycle = {
    kube,
    caches: caches as unknown as OwnedCaches,
    recorder: { record: async () => {} } as unknown as EventRecorder,
    namespacePrefix: "mw-",
    orphanGracePeriodMs: GRACE_MS,
    podSecurity: DEFAULT_POD_SECURITY,
    now: () => NOW,
  };
  const reconcile = workspaceReconciler({
    apply: {} as ApplyDeps,
    lifecycle,
    desired,
    records,
    metrics: {} as AgentMetrics,
  });
  const ctx: ReconcileContext = {
    signal: new AbortController().signal,
    reconcileId: "00000000",
    logger: silentLogger(),
    failures: 0,
  };
  return { reconcile: (id: string) => reconcile(id, ctx), desired, records, writes };
}

test("an orphan marked before a restart waits for the rest of its grace period, writing nothing", async () => {
  const { reconcile, records, writes, desired } = setup(20_000);
  const result = await reconcile("a");
  assert.deepEqual(result, { outcome: "orphaned", writes: 0, requeueAfterMs: GRACE_MS - 20_000 });
  assert.equal(records.get("a")?.orphan?.deleteAtMs, NOW - 20_000 + GRACE_MS);
  assert.equal(desired.isDeleting("a"), false);
  assert.deepEqual(writes, []);
});

test("an orphan whose grace period is over is deleted next (requeue at once)", async () => {
  const { reconcile, desired, records } = setup(GRACE_MS);
  assert.deepEqual(await reconcile("a"), { outcome: "orphaned", writes: 0, requeueAfterMs: 0 });
  assert.equal(desired.isDeleting("a"), true);
  assert.equal(records.get("a")?.orphanCandidate, false);
});

test("under a snapshot with an unreadable item, an expired orphan is looked at again later, not deleted", async () => {
  const { reconcile, desired, records } = setup(GRACE_MS * 2, [
    { index: 0, key: undefined, generation: undefined, error: "workspaces.0.id: Required" },
  ]);
  assert.equal(desired.ambiguous, true);
  assert.equal(records.get("a"), undefined, "an ambiguous snapshot names no orphan candidate");
  // A candidate left from an earlier snapshot.
  records.ensure("a").orphanCandidate = true;
  const result = await reconcile("a");
  assert.deepEqual(result, { outcome: "orphaned", writes: 0, requeueAfterMs: AMBIGUOUS_RECHECK_MS });
  assert.equal(desired.isDeleting("a"), false);
});

test("a key with nothing desired and no orphan candidacy is ignored", async () => {
  const { reconcile } = setup(0);
  assert.deepEqual(await reconcile("b"), { outcome: "ignored", writes: 0 });
});
