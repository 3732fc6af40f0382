// A small client for the Flink JobManager REST API. Every call has a deadline. Outcomes are values,
// not exceptions: `notFound` (the JobManager answered 404), `unreachable` (no answer: refused,
// reset, DNS, timeout) and `error` (any other non-2xx) are different things, because the job state
// reported upward differs (NOT_FOUND vs UNREACHABLE) and must never be guessed as RUNNING.
import { FLINK_JOB_STATES, type JobState } from "@meridian/shared/protocol/index";

export type RestResult<T> =
  | { kind: "ok"; value: T }
  | { kind: "notFound"; message: string }
  | { kind: "unreachable"; message: string }
  | { kind: "error"; status: number; message: string };

export interface ClusterOverview {
  taskmanagers: number;
  "slots-total": number;
  "slots-available": number;
  "jobs-running"?: number;
  "flink-version"?: string;
}

export interface JobSummary {
  jid: string;
  name?: string;
  state: string;
  "start-time"?: number;
}

export interface JobDetails {
  jid: string;
  state: string;
  "start-time"?: number;
  vertices?: Array<{ parallelism?: number; maxParallelism?: number }>;
}

/** `GET /jobs/:id/checkpoints`, the parts Meridian reads (Flink 2's field names). */
export interface CheckpointingStatistics {
  counts?: { completed?: number; failed?: number; in_progress?: number; restored?: number };
  latest?: {
    completed?: {
      id?: number;
      latest_ack_timestamp?: number;
      trigger_timestamp?: number;
      state_size?: number;
      checkpointed_size?: number;
      end_to_end_duration?: number;
      external_path?: string;
    } | null;
    failed?: { id?: number; failure_timestamp?: number; failure_message?: string } | null;
    restored?: {
      id?: number;
      restore_timestamp?: number;
      is_savepoint?: boolean;
      external_path?: string;
    } | null;
  };
}

export type DisposalStatus =
  | { status: "IN_PROGRESS" }
  | { status: "COMPLETED" }
  | { status: "FAILED"; message: string };

export type SavepointStatus =
  | { status: "IN_PROGRESS" }
  | { status: "COMPLETED"; location: string }
  | { status: "FAILED"; message: string };

export interface FlinkRestOptions {
  /** e.g. `http://orders-jobmanager.mw-team.svc:8081` */
  baseUrl: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

const FLINK_STATES: ReadonlySet<string> = new Set(FLINK_JOB_STATES);

/** Flink's state string as our jobState; undefined for a state this build does not know. */
export function toJobState(s: string): JobState | undefined {
  return FLINK_STATES.has(s) ? (s as JobState) : undefined;
}

export class FlinkRestClient {
  readonly baseUrl: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: FlinkRestOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.#timeoutMs = opts.timeoutMs;
    this.#fetch = opts.fetch ?? fetch;
  }

  overview(): Promise<RestResult<ClusterOverview>> {
    return this.#call("GET", "/overview");
  }

  async jobs(): Promise<RestResult<JobSummary[]>> {
    const r = await this.#call<{ jobs?: JobSummary[] }>("GET", "/jobs/overview");
    return r.kind === "ok" ? { kind: "ok", value: r.value.jobs ?? [] } : r;
  }

  job(jobId: string): Promise<RestResult<JobDetails>> {
    return this.#call("GET", `/jobs/${enc(jobId)}`);
  }

  /** `GET /jobs/:id/checkpoints`: counts, the latest completed, failed and restored checkpoint. */
  checkpoints(jobId: string): Promise<RestResult<CheckpointingStatistics>> {
    return this.#call("GET", `/jobs/${enc(jobId)}/checkpoints`);
  }

  /**
   * `POST /jobs/:id/savepoints` (keeps the job running). `triggerId` makes a retry idempotent. Without
   * `targetDirectory` Flink uses `execution.checkpointing.savepoint-dir` from its configuration.
   */
  async triggerSavepoint(
    jobId: string,
    targetDirectory: string | undefined,
    triggerId: string,
  ): Promise<RestResult<string>> {
    const r = await this.#call<{ "request-id": string }>("POST", `/jobs/${enc(jobId)}/savepoints`, {
      ...(targetDirectory ? { "target-directory": targetDirectory } : {}),
      "cancel-job": false,
      triggerId,
    });
    return r.kind === "ok" ? { kind: "ok", value: r.value["request-id"] } : r;
  }

  /** `POST /jobs/:id/stop`: stop-with-savepoint (same `targetDirectory` rule). */
  async stopWithSavepoint(
    jobId: string,
    targetDirectory: string | undefined,
    triggerId: string,
  ): Promise<RestResult<string>> {
    const r = await this.#call<{ "request-id": string }>("POST", `/jobs/${enc(jobId)}/stop`, {
      ...(targetDirectory ? { targetDirectory } : {}),
      drain: false,
      triggerId,
    });
    return r.kind === "ok" ? { kind: "ok", value: r.value["request-id"] } : r;
  }

  /** `GET /jobs/:id/savepoints/:triggerId` (serves both plain and stop-with-savepoint triggers). */
  async savepointStatus(jobId: string, triggerId: string): Promise<RestResult<SavepointStatus>> {
    type Raw = {
      status?: { id?: string };
      operation?: { location?: string; "failure-cause"?: { "stack-trace"?: string; class?: string } };
    };
    const r = await this.#call<Raw>("GET", `/jobs/${enc(jobId)}/savepoints/${enc(triggerId)}`);
    if (r.kind !== "ok") return r;
    if (r.value.status?.id !== "COMPLETED") return { kind: "ok", value: { status: "IN_PROGRESS" } };
    const op = r.value.operation ?? {};
    if (op.location) return { kind: "ok", value: { status: "COMPLETED", location: op.location } };
    return { kind: "ok", value: { status: "FAILED", message: failureMessage(op["failure-cause"]) } };
  }

  /** `POST /savepoint-disposal`: starts disposing of the savepoint at `path`; answers the trigger id. */
  async disposeSavepoint(path: string): Promise<RestResult<string>> {
    const r = await this.#call<{ "request-id": string }>("POST", "/savepoint-disposal", {
      "savepoint-path": path,
    });
    return r.kind === "ok" ? { kind: "ok", value: r.value["request-id"] } : r;
  }

  /** `GET /savepoint-disposal/:triggerId`: IN_PROGRESS, COMPLETED, or FAILED with Flink's cause. */
  async disposalStatus(triggerId: string): Promise<RestResult<DisposalStatus>> {
    type Raw = { status?: { id?: string }; operation?: { "failure-cause"?: FailureCause } | null };
    const r = await this.#call<Raw>("GET", `/savepoint-disposal/${enc(triggerId)}`);
    if (r.kind !== "ok") return r;
    if (r.value.status?.id !== "COMPLETED") return { kind: "ok", value: { status: "IN_PROGRESS" } };
    const cause = r.value.operation?.["failure-cause"];
    if (!cause) return { kind: "ok", value: { status: "COMPLETED" } };
    return { kind: "ok", value: { status: "FAILED", message: failureMessage(cause, "the disposal") } };
  }

  /** `PATCH /jobs/:id?mode=cancel` */
  async cancel(jobId: string): Promise<RestResult<void>> {
    const r = await this.#call<unknown>("PATCH", `/jobs/${enc(jobId)}?mode=cancel`);
    return r.kind === "ok" ? { kind: "ok", value: undefined } : r;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<RestResult<T>> {
    const url = `${this.baseUrl}${path}`;
    const what = `${method} ${path}`;
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(url, {
        method,
        headers: body === undefined ? { accept: "application/json" } : { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      return { kind: "unreachable", message: `${what}: no answer from ${this.baseUrl}: ${causeText(err)}` };
    }
    if (res.status === 404) return { kind: "notFound", message: `${what}: 404 ${flinkErrors(text)}` };
    if (res.status < 200 || res.status >= 300)
      return {
        kind: "error",
        status: res.status,
        message: `${what}: http ${res.status} ${flinkErrors(text)}`,
      };
    if (text === "") return { kind: "ok", value: undefined as T };
    try {
      return { kind: "ok", value: JSON.parse(text) as T };
    } catch {
      return {
        kind: "error",
        status: res.status,
        message: `${what}: answer is not JSON: ${text.slice(0, 200)}`,
      };
    }
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function causeText(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  const c = e?.cause;
  if (c?.code) return `${c.code}${c.message ? ` (${c.message})` : ""}`;
  return c?.message ? `${e.message}: ${c.message}` : (e?.message ?? String(err));
}

/** Flink's `{"errors": [...]}`, first line of each, short. */
function flinkErrors(text: string): string {
  try {
    const j = JSON.parse(text) as { errors?: unknown[] };
    if (Array.isArray(j.errors))
      return j.errors
        .map((e) => String(e).split("\n")[0])
        .join("; ")
        .slice(0, 500);
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

type FailureCause = { "stack-trace"?: string; class?: string };

function failureMessage(cause: FailureCause | undefined, what = "the savepoint"): string {
  if (!cause) return `${what} failed without a cause`;
  const trace = cause["stack-trace"] ?? "";
  // The interesting part is the innermost "Caused by:" line.
  const causedBy = trace
    .split("\n")
    .filter((l) => l.startsWith("Caused by:"))
    .at(-1);
  const first = causedBy ?? trace.split("\n")[0] ?? cause.class ?? "unknown failure";
  return first.replace(/^Caused by:\s*/, "").slice(0, 500);
}
