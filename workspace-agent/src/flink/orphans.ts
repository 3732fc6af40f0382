// The one orphan rule (shared/src/controller/orphan.ts) for Flink deployments. A deployment the
// latest snapshot does not list, never deleted explicitly, keeps running; the first reconcile that
// sees it so writes the time onto its ConfigMap (annotation `meridian.dev/orphaned-since`, with the
// lifecycle state), and the deployment is deleted once the grace period counted from that mark is
// over. The mark survives restarts, so a restart neither resets nor forgets the grace period. Listed
// again, the mark is removed. A resync of a settled orphan writes nothing.
import type { V1ConfigMap } from "@kubernetes/client-node";
import { ANNOTATION_ORPHANED_SINCE, planOrphan } from "@meridian/shared/controller/orphan";
import { F } from "@meridian/shared/log";
import { writeConfigMap } from "./config-map.ts";
import type { LifecycleState } from "./lifecycle-state.ts";
import { type DeploymentRun, requeue } from "./reconcile-deps.ts";

/** How often an orphan past its grace period looks again while the latest snapshot is ambiguous. */
const AMBIGUOUS_RECHECK_MS = 60_000;

/** The mark `cm` carries, into the record: every write of the ConfigMap in this run carries it on. */
export function readOrphanMark(run: DeploymentRun, cm: V1ConfigMap | undefined): void {
  run.record.orphanedSince = cm?.metadata?.annotations?.[ANNOTATION_ORPHANED_SINCE];
}

/**
 * An orphan with persisted `state`: marks it when it is not marked yet, and says whether its grace
 * period is over (then it is to be deleted now). Until then the run is requeued for the deadline.
 */
export async function orphanExpired(
  run: DeploymentRun,
  state: LifecycleState,
  cm: V1ConfigMap | undefined,
): Promise<{ expired: boolean; cm: V1ConfigMap | undefined }> {
  const { deps, log } = run;
  const now = Date.now();
  const plan = planOrphan(cm?.metadata?.annotations, now, deps.orphanGracePeriodMs);
  const deleteAt = new Date(plan.deleteAtMs).toISOString();
  if (plan.state === "mark") {
    run.record.orphanedSince = plan.since;
    const stored = await writeConfigMap(run, state);
    const message = `no longer in the control plane's snapshot; deleted at ${deleteAt} (after ${deps.orphanGracePeriodMs / 1000} s) unless it comes back`;
    log.warn({ since: plan.since }, message);
    deps.recordEvent(stored, "Warning", "Orphaned", message);
    requeue(run, plan.deleteAtMs - now);
    return { expired: false, cm: stored };
  }
  if (plan.state === "waiting") {
    requeue(run, plan.deleteAtMs - now);
    return { expired: false, cm };
  }
  if (deps.desired.ambiguous) {
    // The latest snapshot has an item whose name cannot be read: it may be this deployment.
    log.warn(
      { [F.delayMs]: AMBIGUOUS_RECHECK_MS },
      "orphan grace period over, but the latest snapshot has an item that cannot be identified; not deleting until a snapshot can be read in full",
    );
    requeue(run, AMBIGUOUS_RECHECK_MS);
    return { expired: false, cm };
  }
  log.warn({ since: plan.since }, "orphan grace period over; deleting");
  deps.recordEvent(cm, "Warning", "OrphanDeleted", `orphan since ${plan.since}, grace period over; deleting`);
  return { expired: true, cm };
}

/**
 * The deployment is listed again: the ConfigMap's orphan mark goes (one write; none without a
 * mark). A mark the write could not remove (set by another field manager, e.g. by hand) is left
 * and not tried again, so a resync never writes in a loop.
 */
export async function clearOrphanMark(
  run: DeploymentRun,
  state: LifecycleState,
  cm: V1ConfigMap | undefined,
): Promise<V1ConfigMap | undefined> {
  const mark = run.record.orphanedSince;
  if (mark === undefined) return cm;
  // From here on no write of this run carries the mark.
  run.record.orphanedSince = undefined;
  if (run.record.foreignMark === mark) return cm;
  const stored = await writeConfigMap(run, state);
  const left = stored.metadata?.annotations?.[ANNOTATION_ORPHANED_SINCE];
  if (left === undefined) {
    run.log.info({ since: mark }, "listed again; orphan mark removed");
    return stored;
  }
  run.record.foreignMark = left;
  run.log.warn(
    { since: left },
    `listed again, but the ConfigMap's ${ANNOTATION_ORPHANED_SINCE} annotation was set by another field manager and stays; remove it by hand`,
  );
  return stored;
}
