import assert from "node:assert/strict";
import test from "node:test";
import type { ReconcileContext } from "@meridian/shared/controller/result";
import type { KubeObject } from "@meridian/shared/kube/resources";
import { silentLogger } from "@meridian/shared/log";
import { DesiredState } from "../desired.ts";
import type { AgentMetrics } from "../metrics.ts";
import type { ApplyDeps } from "./apply.ts";
import { deletionCondition, finalSavepoints } from "./deletion-status.ts";
import { type DrainProgress, readDeployments } from "./drain.ts";
import type { LifecycleDeps } from "./lifecycle.ts";
import { workspaceReconciler } from "./reconcile.ts";
import { WorkspaceRecords } from "./record.ts";
import { ConditionBook } from "./status.ts";

const cm = (name: string, state?: unknown): KubeObject => ({
  metadata: {
    name: `${name}-flink-config`,
    labels: { "meridian.dev/deployment": name },
    annotations: state ? { "meridian.dev/lifecycle-state": JSON.stringify(state) } : {},
  },
});

const empty = (): DrainProgress => ({ pending: [], finalState: {}, forced: false });

test("the drain reads each deployment's step, block and newest savepoint from its ConfigMap", () => {
  const p = empty();
  readDeployments(
    [
      cm("b", {
        op: {
          kind: "delete",
          step: "awaitSavepoint",
          blocked: { reason: "SavepointFailed", message: "disk full" },
        },
        savepoints: [{ location: "s3://x/b/sp-1" }],
      }),
      cm("a", { op: { kind: "delete", step: "removePods", savepoint: "s3://x/a/sp-9" }, savepoints: [] }),
      cm("c"),
      { metadata: { name: "unrelated", labels: {} } },
    ],
    p,
  );
  assert.deepEqual(p.pending, [
    { name: "a", step: "removePods" },
    { name: "b", step: "awaitSavepoint", blocked: { reason: "SavepointFailed", message: "disk full" } },
    { name: "c" },
  ]);
  assert.deepEqual(p.finalState, { a: "s3://x/a/sp-9", b: "s3://x/b/sp-1", c: null });
  // Gone from the cluster: what was seen last is kept; nothing is pending any more.
  readDeployments([], p);
  assert.deepEqual(p.pending, []);
  assert.equal(p.finalState.a, "s3://x/a/sp-9");
});

test("DeletionBlocked: blocked names the deployment, the reason and the force annotation; drained lists the final state", () => {
  const book = new ConditionBook();
  const now = "2026-01-01T00:00:00Z";
  const c = (type: string, status: "True" | "False" | "Unknown", reason: string, message: string) =>
    book.condition("w", type, status, reason, message, now);
  const v = { namespace: "mw-w", deleting: true, deleted: false, drain: empty() };
  assert.equal(deletionCondition({ ...v, deleting: false }, c), undefined);
  readDeployments(
    [
      cm("b", {
        op: {
          kind: "delete",
          step: "savepoint",
          blocked: { reason: "SavepointFailed", message: "disk full" },
        },
      }),
    ],
    v.drain,
  );
  const blocked = deletionCondition(v, c);
  assert.equal(blocked?.status, "True");
  assert.equal(blocked?.reason, "DeploymentBlocked");
  assert.match(blocked?.message ?? "", /deployment b: SavepointFailed: disk full/);
  assert.match(blocked?.message ?? "", /kubectl annotate namespace mw-w meridian\.dev\/force-delete=true/);
  v.drain.finalState.b = "s3://x/b/sp-2";
  readDeployments([], v.drain);
  const drained = deletionCondition({ ...v, deleted: true }, c);
  assert.equal(drained?.status, "False");
  assert.equal(drained?.reason, "Drained");
  assert.match(drained?.message ?? "", /b: s3:\/\/x\/b\/sp-2/);
});

test("finalSavepoints: only while deleting or deleted, the deployments that kept a savepoint, by name", () => {
  const drain = empty();
  drain.finalState = { b: "s3://x/b/sp-2", a: "s3://x/a/sp-1", c: null };
  assert.equal(finalSavepoints({ deleting: false, deleted: false, drain }), undefined);
  assert.deepEqual(finalSavepoints({ deleting: true, deleted: false, drain }), [
    { deployment: "a", location: "s3://x/a/sp-1" },
    { deployment: "b", location: "s3://x/b/sp-2" },
  ]);
  assert.deepEqual(finalSavepoints({ deleting: false, deleted: true, drain: empty() }), []);
});

test("an agent restarted mid-drain resumes the deletion (the Secret's mark) instead of starting an orphan grace period", async () => {
  const ns: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "mw-a" } };
  const secret: KubeObject = {
    metadata: {
      name: "meridian-workspace-credential",
      annotations: { "meridian.dev/workspace-deleting": "x" },
    },
  };
  const caches = {
    get: (type: { plural: string }, _ns: unknown, name: string) =>
      type.plural === "namespaces" ? (name === "mw-a" ? ns : undefined) : secret,
  };
  const desired = new DesiredState();
  const change = desired.apply(
    { type: "snapshot", id: "1", data: { workspaces: [], refused: [] } },
    { ids: () => ["a"], generation: () => undefined },
  );
  const records = new WorkspaceRecords();
  for (const id of change.orphanCandidates) records.ensure(id).orphanCandidate = true;
  const writes: string[] = [];
  const lifecycle = {
    kube: new Proxy({}, { get: (_o, verb) => () => writes.push(String(verb)) }),
    caches,
    recorder: { record: async () => {} },
    namespacePrefix: "mw-",
    orphanGracePeriodMs: 86_400_000,
    now: () => Date.now(),
  } as unknown as LifecycleDeps;
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
  assert.deepEqual(await reconcile("a", ctx), { outcome: "orphaned", writes: 0, requeueAfterMs: 0 });
  assert.equal(desired.isDeleting("a"), true);
  assert.deepEqual(writes, [], "no orphan mark written");
});
