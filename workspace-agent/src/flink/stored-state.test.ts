import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import { ANNOTATION_RUN, ANNOTATION_STATE } from "./objects.ts";
import { SPEC_INPUT } from "./spec.testutil.ts";
import { readStoredState, storedGeneration } from "./stored-state.ts";

const cm = (annotations: Record<string, string> | undefined, deleting = false): V1ConfigMap => ({
  metadata: {
    name: "orders-flink-config",
    uid: "cm-1",
    annotations,
    ...(deleting ? { deletionTimestamp: new Date() } : {}),
  },
});
const pod = (name: string, owned: boolean): V1Pod => ({
  metadata: {
    name,
    annotations: { [ANNOTATION_RUN]: "3" },
    ownerReferences: owned
      ? [{ apiVersion: "v1", kind: "ConfigMap", name: "orders-flink-config", uid: "cm-1", controller: true }]
      : undefined,
  },
});

test("no ConfigMap and no pods: a new deployment, no state yet", () => {
  assert.deepEqual(readStoredState(undefined, []), { ok: true, state: undefined });
});

test("an existing ConfigMap whose state annotation was removed or emptied is refused, not a fresh start", () => {
  const cases: (Record<string, string> | undefined)[] = [undefined, {}, { [ANNOTATION_STATE]: "" }];
  for (const annotations of cases) {
    const r = readStoredState(cm(annotations), [pod("orders-jobmanager", true)]);
    assert.equal(r.ok, false, JSON.stringify(annotations));
    if (!r.ok) {
      assert.match(r.error, /meridian\.dev\/lifecycle-state/);
      assert.match(r.error, /orders-flink-config/);
      assert.match(r.error, /docs\/flink-deployments\.md/);
    }
  }
});

test("an unparseable annotation is refused with how to recover", () => {
  const r = readStoredState(cm({ [ANNOTATION_STATE]: "{not json" }), []);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error, /not JSON.*delete the ConfigMap/);
});

test("Flink pods orphaned from their ConfigMap (run annotation, no owner) are refused", () => {
  const r = readStoredState(undefined, [pod("orders-jobmanager", false)]);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error, /orders-jobmanager.*run 3/);
});

test("leftovers of a deletion (owned pods, ConfigMap gone or being deleted) are not refused", () => {
  assert.deepEqual(readStoredState(undefined, [pod("orders-jobmanager", true)]), {
    ok: true,
    state: undefined,
  });
  assert.deepEqual(readStoredState(cm(undefined, true), [pod("orders-jobmanager", true)]), {
    ok: true,
    state: undefined,
  });
});

test("a state stored before the flinkConfiguration rules, with a key Meridian owns, is still read", () => {
  const state = {
    v: 1,
    spec: { ...SPEC_INPUT, flinkConfiguration: { "rest.port": "9999" } },
    nextRunId: 2,
    target: "RUNNING",
    observedRestartNonce: 0,
    observedSavepointNonce: 0,
  };
  const r = readStoredState(cm({ [ANNOTATION_STATE]: JSON.stringify(state) }), []);
  assert.equal(r.ok, true, r.ok ? "" : r.error);
  assert.equal(r.ok && r.state?.spec.flinkConfiguration["rest.port"], "9999");
});

test("the generation a ConfigMap holds: its spec's, or the newer one accepted while an upgrade waits", () => {
  const state = {
    v: 1,
    spec: { ...SPEC_INPUT, generation: 4 },
    nextRunId: 2,
    target: "RUNNING",
    observedRestartNonce: 0,
    observedSavepointNonce: 0,
  };
  const held = storedGeneration(cm({ [ANNOTATION_STATE]: JSON.stringify(state) }));
  assert.deepEqual({ ...held, digest: undefined }, { epoch: 0, generation: 4, digest: undefined });
  assert.match(
    held?.digest ?? "",
    /^[0-9a-f]{32}$/,
    "the spec's digest: a new epoch may take it over unchanged",
  );
  // While a newer accepted spec waits, its content is not kept: no digest.
  const waiting = { ...state, acceptedGeneration: 6, acceptedEpoch: 9 };
  assert.deepEqual(storedGeneration(cm({ [ANNOTATION_STATE]: JSON.stringify(waiting) })), {
    epoch: 9,
    generation: 6,
  });
  assert.equal(storedGeneration(cm({ [ANNOTATION_STATE]: "{not json" })), undefined);
  assert.equal(storedGeneration(undefined), undefined);
});
