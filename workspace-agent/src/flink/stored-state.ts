// Where a deployment's lifecycle state comes from, pure: the state annotation of its ConfigMap. "No
// state" means "a new deployment" only when nothing of the deployment exists. A ConfigMap without the
// annotation (removed by hand, or the ConfigMap replaced) or Flink pods left without their ConfigMap
// (deleted with --cascade=orphan) may still run a job whose state and savepoint history are unknown:
// starting run 1 from scratch would replace those pods without a savepoint. Both are refused like an
// unreadable annotation, with a message that says how to recover.
import type { V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import type { Held } from "@meridian/shared/controller/epoch";
import { heldStamp, type ParsedState, parseState } from "./lifecycle-state.ts";
import { ANNOTATION_RUN, ANNOTATION_STATE } from "./objects.ts";

const terminating = (o: { metadata?: { deletionTimestamp?: unknown } }): boolean =>
  Boolean(o.metadata?.deletionTimestamp);

/**
 * The state to act on. `cm` is the deployment's ConfigMap as last seen, `pods` its Flink pods. A
 * ConfigMap being deleted counts as gone (its pods are garbage-collected with it).
 */
export function readStoredState(cm: V1ConfigMap | undefined, pods: readonly V1Pod[]): ParsedState {
  const text = cm?.metadata?.annotations?.[ANNOTATION_STATE];
  if (text !== undefined && text !== "") {
    const parsed = parseState(text);
    if (!parsed.ok)
      return {
        ok: false,
        error: `${parsed.error}; fix the annotation ${ANNOTATION_STATE}, or delete the ConfigMap to start again without state`,
      };
    return { ok: true, state: cm && !terminating(cm) ? parsed.state : undefined };
  }
  const cmName = cm?.metadata?.name ?? "the Flink ConfigMap";
  if (cm && !terminating(cm))
    return {
      ok: false,
      error:
        `ConfigMap ${cmName} exists but its annotation ${ANNOTATION_STATE} is missing or empty, so the ` +
        "running job's run and savepoint history are unknown; not starting a fresh run (it would drop state). " +
        `Restore the annotation from a copy, or delete the ConfigMap to start again without state (see docs/flink-deployments.md)`,
    };
  // Pods Meridian created are owned by the ConfigMap; without an owner they were orphaned on purpose.
  const orphans = pods.filter(
    (p) =>
      !terminating(p) &&
      p.metadata?.annotations?.[ANNOTATION_RUN] !== undefined &&
      !p.metadata?.ownerReferences?.some((r) => r.controller),
  );
  if (orphans.length > 0)
    return {
      ok: false,
      error:
        `Flink pods ${orphans.map((p) => p.metadata?.name).join(", ")} (run ${orphans[0]?.metadata?.annotations?.[ANNOTATION_RUN]}) ` +
        `exist without their ConfigMap and its annotation ${ANNOTATION_STATE}; not starting a fresh run (it would drop state). ` +
        "Take a savepoint and delete the pods to start again (see docs/flink-deployments.md)",
    };
  return { ok: true, state: undefined };
}

/**
 * The generation a deployment's ConfigMap holds with its epoch and spec digest (see heldStamp), read
 * from its lifecycle state; undefined when there is none or it cannot be read. What a stale spec is
 * compared with after a restart.
 */
export function storedGeneration(cm: V1ConfigMap | undefined): Held | undefined {
  const parsed = parseState(cm?.metadata?.annotations?.[ANNOTATION_STATE]);
  return parsed.ok && parsed.state ? heldStamp(parsed.state) : undefined;
}
