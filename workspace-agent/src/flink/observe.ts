// One look at a JobManager: which job it runs, in which state, with which parallelism, its
// checkpoints, and how many TaskManagers and slots it has. Four calls (`/jobs/overview`, `/jobs/:id`,
// `/jobs/:id/checkpoints`, `/overview`), each with the client's deadline. Unknown is reported as unknown (NOT_FOUND / UNREACHABLE), never as RUNNING.
import type { CheckpointStatus, JobState } from "@meridian/shared/protocol/index";
import { checkpointStatusOf } from "./checkpoints.ts";
import { type FlinkRestClient, type JobSummary, toJobState } from "./rest.ts";

export interface FlinkObservation {
  /** parallelism, maxParallelism: the highest of the job's vertices (what reactive mode can reach). */
  job: { state: JobState; id?: string; startTime?: string; parallelism?: number; maxParallelism?: number };
  taskManagers?: number;
  slots?: { total: number; available: number };
  /** The job's checkpoints; absent when the JobManager did not answer for them. */
  checkpoints?: CheckpointStatus;
  /** Why the state is NOT_FOUND or UNREACHABLE, for logs and conditions. */
  detail?: string;
}

/** The job an application cluster runs: the newest one (there is normally exactly one). */
export function pickJob(jobs: JobSummary[]): JobSummary | undefined {
  return [...jobs].sort((a, b) => (b["start-time"] ?? 0) - (a["start-time"] ?? 0))[0];
}

export async function observeFlink(client: FlinkRestClient): Promise<FlinkObservation> {
  const [jobs, overview] = await Promise.all([client.jobs(), client.overview()]);
  const obs: FlinkObservation = { job: { state: "NOT_FOUND" } };
  if (overview.kind === "ok") {
    obs.taskManagers = overview.value.taskmanagers;
    obs.slots = { total: overview.value["slots-total"], available: overview.value["slots-available"] };
  }
  if (jobs.kind === "unreachable") return { job: { state: "UNREACHABLE" }, detail: jobs.message };
  if (jobs.kind !== "ok") return { ...obs, detail: jobs.message };
  const summary = pickJob(jobs.value);
  if (!summary) return { ...obs, detail: "the JobManager runs no job (yet)" };
  obs.job.id = summary.jid;
  // An initializing job has no checkpoint statistics yet (Flink answers with an error it logs).
  const initializing = summary.state === "INITIALIZING" || summary.state === "CREATED";
  const [details, checkpoints] = await Promise.all([
    client.job(summary.jid),
    initializing ? undefined : client.checkpoints(summary.jid),
  ]);
  if (checkpoints?.kind === "ok") obs.checkpoints = checkpointStatusOf(checkpoints.value);
  if (details.kind === "unreachable")
    return { job: { state: "UNREACHABLE", id: summary.jid }, detail: details.message };
  if (details.kind === "notFound") return { ...obs, detail: details.message };
  const raw = details.kind === "ok" ? details.value.state : summary.state;
  const state = toJobState(raw);
  if (!state)
    return { ...obs, job: { state: "NOT_FOUND", id: summary.jid }, detail: `unknown Flink job state ${raw}` };
  obs.job.state = state;
  const start = (details.kind === "ok" ? details.value["start-time"] : undefined) ?? summary["start-time"];
  if (start && start > 0) obs.job.startTime = new Date(start).toISOString();
  const vertices = details.kind === "ok" ? (details.value.vertices ?? []) : [];
  if (vertices.length) obs.job.parallelism = Math.max(...vertices.map((v) => v.parallelism ?? 0));
  const max = Math.max(0, ...vertices.map((v) => v.maxParallelism ?? 0));
  if (max > 0) obs.job.maxParallelism = max;
  return obs;
}
