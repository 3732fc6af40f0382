// A look at one Flink deployment from outside, for the recovery test and bench: its pods through the
// API server, its job and checkpoint statistics through the JobManager's REST API (its pod IP, as the
// in-process workspace agent reaches it), and SIGKILL of a pod's JVM as the kernel or a crash ends it.
import { type Env, kubeGet, waitFor } from "./harness.ts";

// biome-ignore lint/suspicious/noExplicitAny: API objects and Flink's JSON are navigated freely
export type Obj = Record<string, any>;

export interface FlinkJob {
  id: string;
  state: string;
  /** Flink's `/jobs/:id/checkpoints`. */
  checkpoints: Obj;
}

export class FlinkProbe {
  readonly jm: string;
  readonly #env: Env;
  readonly #ns: string;

  constructor(env: Env, namespace: string, deployment: string) {
    this.#env = env;
    this.#ns = namespace;
    this.jm = `${deployment}-jobmanager`;
  }

  pod(name: string): Promise<Obj | undefined> {
    return kubeGet<Obj>(this.#env, `/api/v1/namespaces/${this.#ns}/pods/${name}`);
  }

  /** GET on the JobManager's REST API; undefined when it does not answer. */
  async rest<T = Obj>(path: string): Promise<T | undefined> {
    const ip = (await this.pod(this.jm))?.status?.podIP;
    if (!ip) return undefined;
    try {
      const res = await fetch(`http://${ip}:8081${path}`, { signal: AbortSignal.timeout(3000) });
      return res.ok ? ((await res.json()) as T) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The job as Flink's REST API shows it: id, state and checkpoint statistics. */
  async job(): Promise<FlinkJob | undefined> {
    const jobs = await this.rest<{ jobs: { id: string; status: string }[] }>("/jobs");
    const j = jobs?.jobs?.[0];
    if (!j) return undefined;
    const checkpoints = await this.rest(`/jobs/${j.id}/checkpoints`);
    return checkpoints ? { id: j.id, state: j.status, checkpoints } : undefined;
  }

  /** SIGKILL to every process of a pod; throws when it runs none. */
  sigkill(name: string): void {
    const pids = this.#env.sim.podProcesses(this.#ns, name);
    if (pids.length === 0) throw new Error(`${name} runs no process to kill`);
    for (const pid of pids) process.kill(pid, "SIGKILL");
  }

  /** Container restarts of a pod as the API server shows them. */
  static restarts(p: Obj | undefined): number {
    return (p?.status?.containerStatuses ?? []).reduce((n: number, c: Obj) => n + (c.restartCount ?? 0), 0);
  }

  /** Waits for the job RUNNING, restored from a checkpoint (or savepoint) with id at least `atLeast`. */
  recovered(what: string, atLeast: number, timeoutMs = 240_000): Promise<Obj> {
    return waitFor(
      what,
      async () => {
        const j = await this.job();
        const restored = j?.checkpoints.latest?.restored;
        if (j?.state !== "RUNNING" || !restored || restored.id < atLeast) return undefined;
        return restored as Obj;
      },
      timeoutMs,
      250,
    );
  }

  /** The newest completed checkpoint id Flink reports, once it is at least `min`. */
  checkpointAtLeast(min: number): Promise<number> {
    return waitFor(
      `a completed checkpoint >= ${min}`,
      async () => {
        const id = (await this.job())?.checkpoints.latest?.completed?.id as number | undefined;
        return id !== undefined && id >= min ? id : undefined;
      },
      120_000,
      250,
    );
  }
}
