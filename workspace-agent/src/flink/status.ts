// A Flink deployment's status, pure: phase, pod summaries and the six conditions (Ready,
// SpecAligned, Healthy, ParallelismAligned, NonceAligned, DeletionBlocked), each with a reason and a
// message whenever it is not in its good state. lastTransitionTime survives unchanged conditions.
// Orphaned and SpecRejected are added only while they hold.
import type { V1Pod } from "@kubernetes/client-node";
import { describeQuotaRefusal } from "@meridian/shared/kube/quota-refusal";
import { compareStrings } from "@meridian/shared/order";
import {
  type Condition,
  type DeploymentPhase,
  type DeploymentSpec,
  type DeploymentStatus,
  isReactive,
  taskManagerReplicas,
} from "@meridian/shared/protocol/index";
import type { PodQuotaRefusal } from "./deployment-record.ts";
import type { LifecycleState } from "./lifecycle-state.ts";
import type { FlinkObservation } from "./observe.ts";
import type { PodFailure } from "./pods.ts";

/** The newest savepoints reported upward (the state keeps up to MAX_SAVEPOINTS; status stays small). */
export const MAX_REPORTED_SAVEPOINTS = 10;

export interface StatusInput {
  name: string;
  /** The latest desired spec, if any (absent for a deletion or an orphan). */
  spec: DeploymentSpec | undefined;
  specHash: string | undefined;
  deleted: boolean;
  /** The control plane's latest snapshot does not list it and it was not deleted. */
  orphaned: boolean;
  /** Why the latest spec was refused (e.g. `image: ...`). */
  refused: { field: string; message: string } | undefined;
  /** The latest spec received was refused on arrival (invalid, or older than the generation held). */
  rejection?: { reason: string; message: string } | undefined;
  state: LifecycleState | undefined;
  jobManager: V1Pod | undefined;
  taskManagers: V1Pod[];
  flink: FlinkObservation | undefined;
  /** The last failure of each of the deployment's pods that has not run healthy since (pods.ts). */
  podFailures?: { pod: string; failure: PodFailure }[];
  /** A pod of the run the API server refused to create: the workspace's ResourceQuota is used up. */
  quotaRefusal?: PodQuotaRefusal | undefined;
  previous: Condition[] | undefined;
  now: Date;
}

type Cond = Omit<Condition, "lastTransitionTime">;

export function podSummary(pod: V1Pod): DeploymentStatus["taskManagers"]["pods"][number] {
  const cs = pod.status?.containerStatuses ?? [];
  return {
    name: pod.metadata?.name ?? "",
    phase: pod.metadata?.deletionTimestamp ? "Terminating" : (pod.status?.phase ?? "Pending"),
    ready: isReady(pod),
    restarts: cs.reduce((n, c) => n + (c.restartCount ?? 0), 0),
  };
}

export function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

export function phaseOf(i: StatusInput): DeploymentPhase {
  const { state } = i;
  if (!state) return i.deleted ? "Deleted" : i.refused || i.rejection ? "Refused" : "Pending";
  switch (state.op?.kind) {
    case "suspend":
      return "Suspending";
    case "cancel":
      return "Cancelling";
    case "upgrade":
    case "restart":
      return "Upgrading";
    case "delete":
      return "Deleting";
    case "resume":
      return "Deploying";
    default:
      break;
  }
  if (!state.run) return state.target === "CANCELLED" ? "Cancelled" : "Suspended";
  const job = i.flink?.job.state;
  if (job === "RUNNING") return "Running";
  if (job === "FAILED") return "Failed";
  return "Deploying";
}

export function buildStatus(i: StatusInput): DeploymentStatus {
  const { state } = i;
  const tmSpec = state?.spec ?? i.spec;
  const runWanted = Boolean(state?.run);
  const tms = [...i.taskManagers].sort((a, b) =>
    compareStrings(a.metadata?.name ?? "", b.metadata?.name ?? ""),
  );
  const jobState = !i.jobManager ? "NOT_DEPLOYED" : (i.flink?.job.state ?? "UNREACHABLE");
  const status: DeploymentStatus = {
    name: i.name,
    observedGeneration: i.spec?.generation ?? state?.spec.generation ?? 0,
    phase: phaseOf(i),
    job: { state: jobState },
    taskManagers: {
      desired: runWanted && tmSpec ? taskManagerReplicas(tmSpec) : 0,
      ready: tms.filter(isReady).length,
      pods: tms.map(podSummary),
    },
    savepoints: state?.savepoints.slice(-MAX_REPORTED_SAVEPOINTS) ?? [],
    observedRestartNonce: state?.observedRestartNonce ?? 0,
    observedSavepointNonce: state?.observedSavepointNonce ?? 0,
    conditions: [],
  };
  if (i.jobManager && i.flink?.job.id) status.job.id = i.flink.job.id;
  if (i.jobManager && i.flink?.job.startTime) status.job.startTime = i.flink.job.startTime;
  if (i.jobManager) status.jobManager = podSummary(i.jobManager);
  if (i.jobManager && i.flink?.slots) status.slots = i.flink.slots;
  if (i.jobManager && i.flink?.checkpoints) status.checkpoints = i.flink.checkpoints;
  const last = state?.savepoints.at(-1);
  if (last) status.lastSavepoint = last;
  status.conditions = withTransitions(conditions(i, status), i.previous, i.now);
  return status;
}

function withTransitions(conds: Cond[], previous: Condition[] | undefined, now: Date): Condition[] {
  return conds.map((c) => {
    const prev = previous?.find((p) => p.type === c.type);
    const same = prev && prev.status === c.status && prev.reason === c.reason;
    return { ...c, lastTransitionTime: same ? prev.lastTransitionTime : now.toISOString() };
  });
}

const ok = (type: string, reason: string, message = ""): Cond => ({ type, status: "True", reason, message });
const bad = (type: string, reason: string, message: string): Cond => ({
  type,
  status: "False",
  reason,
  message,
});

function conditions(i: StatusInput, s: DeploymentStatus): Cond[] {
  const list = [
    ready(i, s),
    specAligned(i),
    healthy(i, s),
    parallelismAligned(i, s),
    nonceAligned(i),
    deletionBlocked(i),
  ];
  // Only while a rejection stands: a condition on every deployment would grow status for nothing.
  if (i.rejection)
    list.push({
      type: "SpecRejected",
      status: "True",
      reason: i.rejection.reason,
      message: `${i.rejection.message}; ${i.state ? `generation ${s.observedGeneration} stays applied` : "nothing was applied"}`,
    });
  if (i.orphaned)
    list.push({
      type: "Orphaned",
      status: "True",
      reason: "NotInSnapshot",
      message:
        "the control plane's snapshot no longer lists this deployment; it keeps running and is deleted when the orphan grace period ends, unless it is listed again",
    });
  return list;
}

function ready(i: StatusInput, s: DeploymentStatus): Cond {
  const T = "Ready";
  if (s.phase === "Suspended" || s.phase === "Cancelled")
    return ok(T, s.phase, `the deployment is ${s.phase.toLowerCase()}`);
  // Why a pod is missing, when the API server said why: waiting does not help, room in the quota does.
  if (i.quotaRefusal)
    return bad(
      T,
      "QuotaExceeded",
      `${describeQuotaRefusal(`pod ${i.quotaRefusal.pod}`, i.quotaRefusal)}; ` +
        "retrying: the workspace's quota must grow, or other pods must go, or the deployment must ask for less",
    );
  if (s.phase !== "Running") return bad(T, s.phase, `the deployment is ${s.phase}; job ${s.job.state}`);
  const notReady = [s.jobManager, ...s.taskManagers.pods].filter((p) => p && !p.ready).map((p) => p?.name);
  if (notReady.length) return bad(T, "PodsNotReady", `pods not ready: ${notReady.join(", ")}`);
  if (s.taskManagers.pods.length < s.taskManagers.desired)
    return bad(
      T,
      "TaskManagersMissing",
      `${s.taskManagers.pods.length} of ${s.taskManagers.desired} TaskManagers exist`,
    );
  return ok(T, "JobRunning", `job ${s.job.id ?? ""} is RUNNING`.replace("  ", " "));
}

function specAligned(i: StatusInput): Cond {
  const T = "SpecAligned";
  if (i.refused) return bad(T, "SpecRefused", `${i.refused.field}: ${i.refused.message}`);
  const op = i.state?.op;
  if (
    op?.blocked &&
    isBlocked(op) &&
    (op.kind === "upgrade" || op.kind === "restart" || op.kind === "suspend" || op.kind === "resume")
  )
    return bad(T, `${cap(op.kind)}Blocked`, op.blocked.message);
  if (op && op.kind !== "savepoint" && op.kind !== "delete")
    return bad(T, `${cap(op.kind)}InProgress`, `${op.kind} at step ${op.step}`);
  if (!i.spec || !i.state) return ok(T, "NoSpec", "");
  const run = i.state.run;
  if (run && i.specHash !== run.specHash)
    return bad(T, "UpgradePending", "the spec changed; an upgrade will start");
  if (!run && i.spec.state === "RUNNING") return bad(T, "StartPending", "the job will be started");
  return ok(T, "Aligned", `generation ${i.spec.generation} is applied`);
}

function healthy(i: StatusInput, s: DeploymentStatus): Cond {
  const T = "Healthy";
  // The kernel killed a container at its memory limit: say so, it is fixed in the spec, not by waiting.
  const oom = (i.podFailures ?? []).filter((f) => f.failure.reason === "OOMKilled");
  if (oom.length)
    return bad(
      T,
      "OOMKilled",
      oom
        .map(
          (f) =>
            `${f.pod} was OOMKilled at its container memory limit ${f.failure.memoryLimit ?? "(none)"}: ` +
            "Flink's memory settings exceed it (raise resources.memory or lower the Flink memory options)",
        )
        .join("; "),
    );
  const failedPods = [s.jobManager, ...s.taskManagers.pods]
    .filter((p) => p?.phase === "Failed")
    .map((p) => p?.name);
  if (failedPods.length) return bad(T, "PodFailed", `failed pods (being replaced): ${failedPods.join(", ")}`);
  const job = s.job.state;
  if (job === "FAILED" || job === "FAILING" || job === "RESTARTING")
    return bad(T, `Job${cap(job.toLowerCase())}`, `the Flink job is ${job}`);
  if (job === "UNREACHABLE" && i.state?.run?.everRunning)
    return bad(T, "JobManagerUnreachable", i.flink?.detail ?? "the JobManager REST API does not answer");
  return ok(T, "Healthy", "");
}

function parallelismAligned(i: StatusInput, s: DeploymentStatus): Cond {
  const T = "ParallelismAligned";
  const spec = i.state?.spec ?? i.spec;
  const want = spec?.parallelism;
  if (s.job.state !== "RUNNING" || !spec || want === undefined)
    return { type: T, status: "Unknown", reason: "JobNotRunning", message: `job is ${s.job.state}` };
  if (isReactive(spec)) return reactiveAligned(i, s, spec);
  const have = i.flink?.job.parallelism;
  if (have !== undefined && have !== want)
    return bad(T, "ParallelismMismatch", `the job runs with parallelism ${have}, the spec says ${want}`);
  if (s.slots && s.slots.total < want)
    return bad(T, "InsufficientSlots", `${s.slots.total} task slots for parallelism ${want}`);
  return ok(T, "Aligned", `parallelism ${want}`);
}

/**
 * Reactive mode: the job should run on every slot the spec's TaskManagers give, capped by its max
 * parallelism; until Flink has rescaled it (TaskManagers registering, the adaptive scheduler's
 * cool-down and stabilization) the condition says what it waits for.
 */
function reactiveAligned(i: StatusInput, s: DeploymentStatus, spec: DeploymentSpec): Cond {
  const T = "ParallelismAligned";
  const tms = taskManagerReplicas(spec);
  const slots = tms * spec.taskManager.taskSlots;
  const max = i.flink?.job.maxParallelism;
  const want = max === undefined ? slots : Math.min(slots, max);
  const what = `${tms} TaskManagers × ${spec.taskManager.taskSlots} slots${max !== undefined && max < slots ? `, capped by the job's max parallelism ${max}` : ""}`;
  const have = i.flink?.job.parallelism;
  if (have === undefined)
    return { type: T, status: "Unknown", reason: "ParallelismUnknown", message: `want ${want} (${what})` };
  if (have === want) return ok(T, "Aligned", `parallelism ${want} (reactive: ${what})`);
  const registered = s.slots?.total;
  if (registered !== undefined && registered < slots)
    return bad(
      T,
      "WaitingForTaskManagers",
      `the job runs with parallelism ${have}; ${registered} of ${slots} task slots registered, reactive mode rescales it to ${want} once they are`,
    );
  return bad(
    T,
    "Rescaling",
    `the job runs with parallelism ${have}; reactive mode rescales it to ${want} (${what})`,
  );
}

function nonceAligned(i: StatusInput): Cond {
  const T = "NonceAligned";
  const st = i.state;
  if (!i.spec || !st) return ok(T, "Aligned", "");
  const op = st.op;
  const blocked =
    op?.blocked && isBlocked(op) && (op.kind === "savepoint" || op.kind === "restart")
      ? op.blocked
      : undefined;
  if (i.spec.savepointNonce !== st.observedSavepointNonce)
    return bad(
      T,
      blocked ? "SavepointFailed" : "SavepointPending",
      blocked?.message ?? `savepointNonce ${i.spec.savepointNonce} is being served`,
    );
  if (i.spec.restartNonce !== st.observedRestartNonce)
    return bad(
      T,
      blocked ? "RestartBlocked" : "RestartPending",
      blocked?.message ?? `restartNonce ${i.spec.restartNonce} is being served`,
    );
  return ok(T, "Aligned", "");
}

function deletionBlocked(i: StatusInput): Cond {
  const T = "DeletionBlocked";
  const op = i.state?.op;
  if (op?.kind === "delete" && op.blocked && isBlocked(op)) {
    const hint = op.blocked.message.includes("force-delete")
      ? ""
      : "; annotate the ConfigMap with meridian.dev/force-delete=true to delete without a savepoint";
    return { type: T, status: "True", reason: op.blocked.reason, message: op.blocked.message + hint };
  }
  return {
    type: T,
    status: "False",
    reason: op?.kind === "delete" ? "Deleting" : "NotDeleting",
    message: "",
  };
}

/** A short wait for a job's tasks to start is not a blocked operation. */
function isBlocked(op: { blocked?: { reason: string } | undefined }): boolean {
  return op.blocked !== undefined && op.blocked.reason !== "TasksStarting";
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
