import assert from "node:assert/strict";
import test from "node:test";
import type { KubeObject } from "@meridian/shared/kube/resources";
import { deletionCondition } from "./deletion-status.ts";
import { type DrainProgress, readDeployments } from "./drain.ts";
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
