// A small client for the Flink REST API calls the local-cluster tests and benchmarks make:
// job overview, savepoint, stop-with-savepoint, checkpoint statistics.

export interface JobOverview {
  jid: string;
  name: string;
  state: string;
  /** Task counts by state: running, scheduled, initializing, … */
  tasks: Record<string, number>;
}

export interface SavepointStatus {
  status: { id: "IN_PROGRESS" | "COMPLETED" };
  operation?: { location?: string; "failure-cause"?: { class?: string; "stack-trace"?: string } };
}

export interface CheckpointStats {
  counts: Record<string, number>;
  latest?: {
    restored?: { id: number; is_savepoint: boolean; external_path: string } | null;
    completed?: { id: number; external_path?: string } | null;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True once every task of the job runs (the job state alone turns RUNNING before tasks deploy). */
export function allTasksRunning(job: JobOverview): boolean {
  const total = Object.entries(job.tasks)
    .filter(([k]) => k !== "total")
    .reduce((n, [, v]) => n + v, 0);
  return job.state === "RUNNING" && total > 0 && job.tasks.running === total;
}

/** Polls `check` until it returns a value; on timeout throws with what `describe` says. */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; describe?: () => Promise<string> },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = opts.describe ? await opts.describe().catch((e) => `(no detail: ${e})`) : "";
      const lastErr = last ? ` (last error: ${(last as Error).message})` : "";
      throw new Error(`timed out after ${opts.timeoutMs / 1000}s waiting for ${what}${lastErr}\n${detail}`);
    }
    await sleep(opts.intervalMs ?? 500);
  }
}

export class FlinkRest {
  readonly base: string;

  /** `base` is the JobManager's REST address, e.g. http://127.0.1.5:8081. */
  constructor(base: string) {
    this.base = base.replace(/\/$/, "");
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  async jobs(): Promise<JobOverview[]> {
    return (await this.#call<{ jobs: JobOverview[] }>("GET", "/jobs/overview")).jobs;
  }

  /** POST /jobs/:id/savepoints; returns the trigger id. */
  async triggerSavepoint(jobId: string, targetDirectory?: string): Promise<string> {
    const body = { "cancel-job": false, ...(targetDirectory ? { "target-directory": targetDirectory } : {}) };
    return (await this.#call<{ "request-id": string }>("POST", `/jobs/${jobId}/savepoints`, body))[
      "request-id"
    ];
  }

  /** POST /jobs/:id/stop (stop with savepoint, no drain); returns the trigger id. */
  async stopWithSavepoint(jobId: string, targetDirectory?: string): Promise<string> {
    const body = { drain: false, ...(targetDirectory ? { targetDirectory } : {}) };
    return (await this.#call<{ "request-id": string }>("POST", `/jobs/${jobId}/stop`, body))["request-id"];
  }

  savepointStatus(jobId: string, triggerId: string): Promise<SavepointStatus> {
    return this.#call("GET", `/jobs/${jobId}/savepoints/${triggerId}`);
  }

  /** Polls the trigger until it completes; returns the savepoint location or throws Flink's cause. */
  async awaitSavepoint(jobId: string, triggerId: string, timeoutMs: number): Promise<string> {
    const done = await pollUntil(
      `savepoint ${triggerId} of job ${jobId}`,
      async () => {
        const s = await this.savepointStatus(jobId, triggerId);
        return s.status.id === "COMPLETED" ? s : undefined;
      },
      { timeoutMs },
    );
    const location = done.operation?.location;
    if (!location) {
      const cause = done.operation?.["failure-cause"]?.["stack-trace"]?.split("\n").slice(0, 6).join("\n");
      throw new Error(`savepoint ${triggerId} of job ${jobId} failed:\n${cause ?? JSON.stringify(done)}`);
    }
    return location;
  }

  checkpoints(jobId: string): Promise<CheckpointStats> {
    return this.#call("GET", `/jobs/${jobId}/checkpoints`);
  }
}
