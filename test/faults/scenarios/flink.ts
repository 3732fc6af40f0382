// Faults of Flink itself: the verification job's JobManager and TaskManager JVMs killed or frozen.
import { waitFor } from "../../e2e/kube.ts";
import { type Scenario, type ScenarioContext, sleep } from "../scenario.ts";
import { VERIFY, WS_NS } from "../workload.ts";

const JM = `${VERIFY}-jobmanager`;
const TM = `${VERIFY}-taskmanager-0`;

/** Restarts of a pod's containers as the API server shows them. */
// biome-ignore lint/suspicious/noExplicitAny: a pod as JSON
const restarts = (p: any): number =>
  // biome-ignore lint/suspicious/noExplicitAny: a container status as JSON
  (p.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0);

/**
 * SIGKILLs a Flink pod's JVM; the fault is over once the API server shows the container restarted in
 * place (restartPolicy Always) or the pod failed or gone.
 */
async function killFlinkPod(ctx: ScenarioContext, pod: string): Promise<void> {
  const path = `/api/v1/namespaces/${WS_NS}/pods/${pod}`;
  const before = JSON.parse((await ctx.sys.cluster.request("GET", path)).body);
  const uid = before.metadata?.uid;
  ctx.signalPod("workers", WS_NS, pod, "SIGKILL");
  await waitFor(
    `pod ${pod} seen failed or replaced`,
    async () => {
      const res = await ctx.sys.cluster.request("GET", path);
      if (res.status === 404) return true;
      const p = JSON.parse(res.body);
      return (
        p.metadata?.uid !== uid ||
        p.status?.phase === "Failed" ||
        p.metadata?.deletionTimestamp !== undefined ||
        restarts(p) > restarts(before)
      );
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

export const flinkScenarios: Scenario[] = [
  {
    name: "taskmanager-sigkill",
    proves:
      "a TaskManager JVM SIGKILLed: the kubelet restarts it in place, Flink restores the job from its last checkpoint, and the output stays exactly-once",
    bounded: true,
    replaces: new RegExp(`^Pod ${WS_NS}/${TM}$`),
    async run(ctx) {
      await killFlinkPod(ctx, TM);
    },
  },
  {
    name: "jobmanager-sigkill",
    proves:
      "a JobManager JVM SIGKILLed: the kubelet restarts it in place and the job resumes from its latest checkpoint through Kubernetes HA; exactly-once output shows no progress replayed",
    replaces: new RegExp(`^Pod ${WS_NS}/${VERIFY}-`),
    async run(ctx) {
      await killFlinkPod(ctx, JM);
    },
  },
  {
    name: "taskmanager-sigstop-20s",
    proves:
      "a TaskManager frozen (SIGSTOP) for 20 s and thawed: the job goes on without loss or double count",
    replaces: new RegExp(`^Pod ${WS_NS}/${VERIFY}-`),
    async run(ctx) {
      ctx.signalPod("workers", WS_NS, TM, "SIGSTOP");
      await sleep(20_000);
      ctx.signalPod("workers", WS_NS, TM, "SIGCONT");
    },
  },
  {
    name: "jobmanager-sigstop-20s",
    proves:
      "a JobManager frozen (SIGSTOP) for 20 s: reported unreachable meanwhile, never guessed RUNNING, and the job goes on after it thaws",
    replaces: new RegExp(`^Pod ${WS_NS}/${VERIFY}-`),
    async run(ctx) {
      ctx.signalPod("workers", WS_NS, JM, "SIGSTOP");
      await sleep(20_000);
      ctx.signalPod("workers", WS_NS, JM, "SIGCONT");
    },
  },
];
