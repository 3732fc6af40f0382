// One simulated pod from first sight to deletion: prepares its directory,
// volumes and service-account kubeconfig, runs init containers in order and
// then the containers, reports status, re-syncs volumes every 2 s, and on
// graceful deletion stops its processes (SIGTERM, grace capped at 30 s,
// SIGKILL) before deleting the pod with gracePeriodSeconds 0 and a uid
// precondition, as the kubelet does.
import { readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "@meridian/shared/log";
import { containerContext, type ObjectSource } from "./container-context.ts";
import { ContainerRunner, type RestartPolicy } from "./container-runner.ts";
import { type ContainerLaunch, findImageEntry, type ImageMapEntry } from "./image-map.ts";
import { isStatus, type KubeApi } from "./kube-api.ts";
import type { ContainerLogs } from "./log-server.ts";
import { rfc3339 } from "./nodes.ts";
import { StatusReporter } from "./pod-status.ts";
import type { ProcessTable } from "./processes.ts";
import {
  kubeconfigYaml,
  mountsServiceAccountToken,
  PodTokenSource,
  writeFileAtomic,
} from "./service-account.ts";
import { PodVolumes } from "./volumes.ts";

export const SIMULATED_ANNOTATION = "meridian.dev/simulated";
export const MAX_GRACE_SECONDS = 30;
const RESYNC_MS = 2000;

export interface PodWorkerDeps {
  api: KubeApi;
  logger: Logger;
  processes: ProcessTable;
  imageMap: readonly ImageMapEntry[];
  objects: ObjectSource;
  hostsFile: string;
  preloadPath: string;
  hostIP: string;
  podIP: string;
  podDir: string;
  claimsDir: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PodWorker {
  pod: V1Pod;
  readonly podIP: string;
  readonly podDir: string;
  readonly #d: PodWorkerDeps;
  readonly #log: Logger;
  readonly #volumes: PodVolumes;
  readonly #tokens: PodTokenSource;
  readonly #reporter: StatusReporter;
  readonly #startTime = rfc3339();
  readonly #runners: ContainerRunner[];
  readonly #initRunners: ContainerRunner[] = [];
  #prepared = false;
  #initialized = false;
  #initFailed = false;
  #terminating: Promise<void> | undefined;
  #aborted = false;
  #resync: NodeJS.Timeout | undefined;
  #kubeconfigToken = "";
  #annotated = false;

  constructor(pod: V1Pod, deps: PodWorkerDeps) {
    this.pod = pod;
    this.#d = deps;
    this.podIP = deps.podIP;
    this.podDir = deps.podDir;
    this.#log = deps.logger.child({ namespace: pod.metadata?.namespace, name: pod.metadata?.name });
    this.#volumes = new PodVolumes(
      pod,
      deps.podDir,
      { ...deps.objects, token: (a, e) => this.#tokens.token(a, e), claimsDir: deps.claimsDir },
      deps.podIP,
      deps.hostIP,
    );
    this.#tokens = new PodTokenSource(deps.api, pod);
    const initial = pod.spec?.initContainers?.length ? "PodInitializing" : "ContainerCreating";
    this.#runners = (pod.spec?.containers ?? []).map((c) => this.#runner(c, this.#policy(), initial));
    this.#reporter = new StatusReporter(
      deps.api,
      `/api/v1/namespaces/${this.namespace}/pods/${this.name}/status`,
      () => ({
        pod: this.pod,
        podIP: this.podIP,
        hostIP: deps.hostIP,
        startTime: this.#startTime,
        prepared: this.#prepared,
        initialized: this.#initialized,
        initFailed: this.#initFailed,
        initRunners: this.#initRunners,
        runners: this.#runners,
        terminating: this.#terminating !== undefined,
      }),
      this.#log,
    );
  }

  get namespace(): string {
    return this.pod.metadata?.namespace ?? "default";
  }

  get name(): string {
    return this.pod.metadata?.name ?? "";
  }

  get kubeconfigPath(): string {
    return join(this.podDir, "kubeconfig");
  }

  get #automount(): boolean {
    return this.pod.spec?.automountServiceAccountToken !== false || mountsServiceAccountToken(this.pod);
  }

  #policy(): RestartPolicy {
    return (this.pod.spec?.restartPolicy as RestartPolicy | undefined) ?? "Always";
  }

  #runner(c: V1Container, policy: RestartPolicy, initialReason: string): ContainerRunner {
    return new ContainerRunner(
      c,
      {
        logger: this.#log,
        logDir: join(this.podDir, "logs"),
        processes: this.#d.processes,
        restartPolicy: policy,
        launch: () => this.#launch(c),
        probeTarget: (l) => ({ podIP: this.podIP, container: c, env: l.env, cwd: l.cwd ?? this.podDir }),
        killGraceMs: this.#graceMs(this.pod.spec?.terminationGracePeriodSeconds),
        onChange: () => this.report(),
      },
      initialReason,
    );
  }

  #graceMs(seconds: number | undefined): number {
    return Math.min(seconds ?? 30, MAX_GRACE_SECONDS) * 1000;
  }

  start(): void {
    this.#run().catch((err) => this.#log.error({ err }, "pod worker failed"));
  }

  update(pod: V1Pod): void {
    if (pod.metadata?.uid !== this.pod.metadata?.uid) return;
    this.pod = pod;
    // Someone else may have written its status (pods marked NotReady with their node): ours again.
    this.#reporter.observed(pod.status);
    if (pod.metadata?.deletionTimestamp) void this.terminate();
  }

  async #run(): Promise<void> {
    await mkdir(join(this.podDir, "logs"), { recursive: true });
    this.report();
    while (!this.#aborted) {
      try {
        await this.#volumes.sync();
        if (this.#automount) await this.#writeKubeconfig();
        this.#prepared = true;
        break;
      } catch (err) {
        this.#log.info({ err: (err as Error).message }, "pod not ready to start; retrying");
        for (const r of this.#runners) {
          if (r.state.waiting)
            r.state = { waiting: { reason: "ContainerCreating", message: (err as Error).message } };
        }
        this.report();
        await sleep(1000);
      }
    }
    if (this.#aborted) return;
    this.#resync = setInterval(() => void this.#resyncVolumes(), RESYNC_MS);
    this.report();
    for (const c of this.pod.spec?.initContainers ?? []) {
      if (this.#aborted) return;
      const sidecar = c.restartPolicy === "Always";
      const r = this.#runner(
        c,
        sidecar ? "Always" : this.#policy() === "Never" ? "Never" : "OnFailure",
        "PodInitializing",
      );
      this.#initRunners.push(r);
      r.start();
      if (sidecar) {
        while (!this.#aborted && !r.started && !r.finished) await sleep(100);
        continue;
      }
      await r.done;
      if (this.#aborted) return;
      if (!r.succeeded) {
        this.#initFailed = true;
        this.report();
        return;
      }
    }
    if (this.#aborted) return;
    this.#initialized = true;
    for (const r of this.#runners) r.start();
    this.report();
    await Promise.all(this.#runners.map((r) => r.done));
    if (!this.#terminating) {
      for (const r of this.#initRunners)
        await r.stop(this.#graceMs(this.pod.spec?.terminationGracePeriodSeconds));
      clearInterval(this.#resync);
    }
  }

  async #resyncVolumes(): Promise<void> {
    try {
      await this.#volumes.sync();
      if (this.#automount) await this.#writeKubeconfig();
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, "volume resync failed; keeping the previous files");
    }
  }

  async #writeKubeconfig(): Promise<void> {
    const token = await this.#tokens.token(undefined, 3600);
    if (token === this.#kubeconfigToken) return;
    await writeFileAtomic(
      this.kubeconfigPath,
      kubeconfigYaml(this.#d.api.server, this.#d.api.caPem, token, this.namespace),
      0o600,
    );
    this.#kubeconfigToken = token;
  }

  async #launch(container: V1Container): Promise<ContainerLaunch | undefined> {
    const entry = findImageEntry(this.#d.imageMap, container.image ?? "");
    if (!entry) {
      void this.#annotateSimulated();
      return undefined;
    }
    const ctx = await containerContext({
      pod: this.pod,
      container,
      objects: this.#d.objects,
      apiServer: this.#d.api.server,
      podIP: this.podIP,
      hostIP: this.#d.hostIP,
      podDir: this.podDir,
      volumeDirs: this.#volumes.mountsFor(container),
      kubeconfigPath: this.#automount ? this.kubeconfigPath : undefined,
      hostsFile: this.#d.hostsFile,
      preloadPath: this.#d.preloadPath,
    });
    return entry.launch(ctx);
  }

  async #annotateSimulated(): Promise<void> {
    if (this.#annotated) return;
    this.#annotated = true;
    try {
      await this.#d.api.patch(
        `/api/v1/namespaces/${this.namespace}/pods/${this.name}`,
        { metadata: { annotations: { [SIMULATED_ANNOTATION]: "true" } } },
        "application/merge-patch+json",
      );
    } catch (err) {
      this.#log.debug({ err }, "could not annotate pod as simulated");
    }
  }

  /** Schedules a status PATCH if the computed status changed. */
  report(): void {
    this.#reporter.report();
  }

  /** Graceful deletion: stop every container, report, then remove the pod from the API. */
  terminate(): Promise<void> {
    this.#terminating ??= this.#terminate();
    return this.#terminating;
  }

  async #terminate(): Promise<void> {
    this.#aborted = true;
    const graceMs = this.#graceMs(
      this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds,
    );
    this.#log.debug({ graceMs }, "terminating pod");
    await Promise.all(this.#runners.map((r) => r.stop(graceMs)));
    await Promise.all(this.#initRunners.map((r) => r.stop(graceMs)));
    clearInterval(this.#resync);
    this.report();
    await this.#reporter.flush();
    this.#reporter.disable();
    try {
      await this.#d.api.request("DELETE", `/api/v1/namespaces/${this.namespace}/pods/${this.name}`, {
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          gracePeriodSeconds: 0,
          preconditions: { uid: this.pod.metadata?.uid },
        },
      });
    } catch (err) {
      if (!isStatus(err, 404) && !isStatus(err, 409)) this.#log.warn({ err }, "final pod deletion failed");
    }
  }

  /** The pod is gone from the API (or the simulator stops): kill everything, report nothing. */
  async kill(graceMs: number): Promise<void> {
    this.#aborted = true;
    this.#reporter.disable();
    clearInterval(this.#resync);
    await Promise.all([...this.#runners, ...this.#initRunners].map((r) => r.stop(graceMs)));
    await this.#terminating?.catch(() => {});
  }

  /** Process ids of the containers running now. */
  pids(): number[] {
    return [...this.#initRunners, ...this.#runners]
      .map((r) => r.pid)
      .filter((p): p is number => p !== undefined);
  }

  findLogs(container: string): ContainerLogs | undefined {
    const r = [...this.#runners, ...this.#initRunners].find((x) => x.name === container);
    if (!r) return undefined;
    const dir = join(this.podDir, "logs", container);
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {}
    const files = names
      .filter((n) => /^\d+\.log$/.test(n))
      .map((n) => Number.parseInt(n, 10))
      .sort((a, b) => a - b)
      .map((n) => join(dir, `${n}.log`));
    return { files, live: r.log, simulated: r.simulated };
  }
}
