// fast-check arbitraries for the Flink renderer's fuzz tests (objects.fuzz.test.ts and the API
// server's dry run in test/fuzz): deployment specs the protocol accepts and the context they render in.
import { deploymentSpecInput, dnsLabel, mutated } from "@meridian/shared/protocol/arbitraries.testutil";
import { type DeploymentSpec, streamedDeploymentSpec } from "@meridian/shared/protocol/index";
import fc from "fast-check";
import { type LifecycleState, MAX_SAVEPOINTS, serializeState } from "./lifecycle-state.ts";
import { type DeploymentContext, names, type PodRun, savepointDir, specHash } from "./objects.ts";

/** Specs the protocol accepts: generated valid ones, and mutations of them that still pass. */
export const acceptedDeploymentSpec: fc.Arbitrary<DeploymentSpec> = fc
  .oneof(
    deploymentSpecInput,
    mutated(deploymentSpecInput).map((m) => m.value),
  )
  .map((input) => streamedDeploymentSpec.safeParse(input))
  .filter((r) => r.success)
  .map((r) => r.data as DeploymentSpec);

export interface Rendering {
  ctx: DeploymentContext;
  owner: { name: string; uid: string };
  run: PodRun;
  /** The lifecycle state annotation as reconcile writes it for a first run of this spec. */
  state: string;
}

/** A spec in a workspace namespace, with the owner, run and state its objects are built with. */
export const rendering: fc.Arbitrary<Rendering> = fc
  .record({
    spec: acceptedDeploymentSpec,
    workspaceId: dnsLabel(40),
    prefix: fc.constantFrom("mw-", "meridian-workspaces-x-"),
    savepointBaseDir: fc.option(fc.constantFrom("s3://bucket/savepoints", "file:///flink-data/sp"), {
      nil: undefined,
    }),
    restoreFrom: fc.option(fc.constant("s3://bucket/savepoints/orders/savepoint-1a2b3c"), { nil: undefined }),
    uid: fc.uuid(),
  })
  .map(({ spec, workspaceId, prefix, savepointBaseDir, restoreFrom, uid }) =>
    build(spec, { workspaceId, namespace: `${prefix}${workspaceId}`, savepointBaseDir, restoreFrom, uid }),
  );

interface Where {
  workspaceId: string;
  namespace: string;
  savepointBaseDir: string | undefined;
  restoreFrom: string | undefined;
  uid: string;
}

/** `spec` rendered where `like` was (same workspace, namespace, owner uid and restore point). */
export function renderingOf(spec: DeploymentSpec, like: Rendering): Rendering {
  const { workspaceId, namespace, savepointBaseDir } = like.ctx;
  return build(spec, {
    workspaceId,
    namespace,
    savepointBaseDir,
    restoreFrom: like.run.restoreFrom,
    uid: like.owner.uid,
  });
}

function build(spec: DeploymentSpec, w: Where): Rendering {
  const ctx: DeploymentContext = {
    workspaceId: w.workspaceId,
    namespace: w.namespace,
    spec,
    savepointBaseDir: w.savepointBaseDir,
  };
  const hash = specHash(spec);
  const run: PodRun = { id: 1, specHash: hash, restoreFrom: w.restoreFrom };
  const state: LifecycleState = {
    v: 1,
    spec,
    run: {
      id: 1,
      specHash: hash,
      restoreFrom: w.restoreFrom,
      startedAt: "2026-04-15T10:00:00.000Z",
      everRunning: false,
    },
    nextRunId: 2,
    target: spec.state,
    observedRestartNonce: spec.restartNonce,
    observedSavepointNonce: spec.savepointNonce,
    // A full savepoint history: the annotation at its largest for this spec.
    savepoints: Array.from({ length: MAX_SAVEPOINTS }, (_, i) => ({
      location: `${savepointDir(ctx)}/savepoint-${i}-0123456789ab`,
      time: "2026-04-15T10:00:00Z",
      trigger: "nonce" as const,
      nonce: i,
    })),
  };
  return { ctx, owner: { name: names.configMap(spec.name), uid: w.uid }, run, state: serializeState(state) };
}
