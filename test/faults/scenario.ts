// What a fault scenario is and the tools it injects faults with. A scenario's run() injects the fault
// by real means (a signal, a stopped process, the fault proxy) and returns when the fault is over; the
// campaign then measures convergence and checks every invariant.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DeploymentSpec } from "@meridian/shared/protocol/index";
import type { DeploymentBody } from "../control-plane/index.ts";
import { waitFor } from "../e2e/kube.ts";
import { agentPods, holderPod, leaseHolder, podName, readyPods, workspaceAgentPods } from "../e2e/observe.ts";
import type { CampaignSystem } from "./system.ts";
import { NAMESPACE, WS, WS_NS } from "./workload.ts";

export type NodeName = "agents" | "workers";

export interface ScenarioContext {
  sys: CampaignSystem;
  /** A detail for the scoreboard line (what exactly happened). */
  note(detail: string): void;
  /** Sends `signal` to every process of a pod; a SIGKILL counts as a restart the scenario caused. */
  signalPod(node: NodeName, ns: string, pod: string, signal: NodeJS.Signals): number[];
  /** Records a restart of `pod` the scenario caused by other means (a lost node). */
  killed(pod: string): void;
  /** A token the fault brought into being (a rotated agent token): searched for in every log too. */
  knownToken(name: string, value: string): void;
  /** The agent pod holding the Lease. */
  leader(): Promise<string>;
  /** Waits for a log line matching `re` that the pod writes from now on; returns it. */
  waitLogLine(
    node: NodeName,
    ns: string,
    pod: string,
    re: RegExp,
    timeoutMs: number,
  ): Promise<() => Promise<string>>;
  /** The workspace agent's pod name. */
  workspaceAgentPod(): Promise<string>;
  /** PUTs the deployment with `change` merged into its current spec; returns the new generation. */
  patchDeployment(name: string, change: (spec: DeploymentBody) => DeploymentBody): Promise<number>;
}

export interface Scenario {
  name: string;
  /** What holding every invariant after this fault proves. */
  proves: string;
  /** Part of the bounded CI subset (`--bounded`). */
  bounded?: boolean;
  /** Inventory keys the fault may delete or recreate on purpose (e.g. a killed JobManager's pod). */
  replaces?: RegExp;
  /** Sets up what the fault needs, before the baseline is taken. */
  prepare?(ctx: ScenarioContext): Promise<void>;
  /** Injects the fault and returns when it is over. */
  run(ctx: ScenarioContext): Promise<void>;
  /** The scenario's own expected outcome after convergence; a string says what is wrong. */
  outcome?(ctx: ScenarioContext): Promise<string | undefined>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every log line a pod's containers wrote (all instances), from the node simulator's files. */
async function podLogText(sys: CampaignSystem, node: NodeName, ns: string, pod: string): Promise<string> {
  const sim = node === "agents" ? sys.agentsNode() : sys.workersNode();
  const dir = sim.podDir(ns, pod);
  if (!dir) return "";
  const entries = await readdir(join(dir, "logs"), { withFileTypes: true, recursive: true }).catch(() => []);
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith(".log"))
    .map((e) => join(e.parentPath, e.name));
  return (await Promise.all(files.sort().map((f) => readFile(f, "utf8").catch(() => "")))).join("\n");
}

export function scenarioContext(
  sys: CampaignSystem,
  notes: string[],
  killed: Map<string, number>,
  knownToken: (name: string, value: string) => void,
): ScenarioContext {
  const simOf = (node: NodeName) => (node === "agents" ? sys.agentsNode() : sys.workersNode());
  return {
    sys,
    note: (d) => notes.push(d),
    signalPod(node, ns, pod, signal) {
      const pids = simOf(node).podProcesses(ns, pod);
      if (pids.length === 0) throw new Error(`pod ${ns}/${pod} runs no process to send ${signal} to`);
      for (const pid of pids) process.kill(pid, signal);
      if (signal === "SIGKILL") killed.set(pod, (killed.get(pod) ?? 0) + 1);
      return pids;
    },
    killed: (pod) => killed.set(pod, (killed.get(pod) ?? 0) + 1),
    knownToken,
    async leader() {
      return waitFor(
        "an agent pod holding the Lease",
        async (observe) => {
          const holder = await leaseHolder(sys.cluster);
          observe(`holder ${holder ?? "none"}`);
          const pod = holderPod(holder, await agentPods(sys.cluster));
          return pod ? podName(pod) : undefined;
        },
        { timeoutMs: 60_000 },
      );
    },
    async waitLogLine(node, ns, pod, re, timeoutMs) {
      const from = (await podLogText(sys, node, ns, pod)).length;
      return () =>
        waitFor(
          `a log line of ${ns}/${pod} matching ${re}`,
          async () => {
            const text = (await podLogText(sys, node, ns, pod)).slice(from);
            return text.split("\n").find((l) => re.test(l));
          },
          { timeoutMs, intervalMs: 20 },
        );
    },
    async workspaceAgentPod() {
      const pods = readyPods(await workspaceAgentPods(sys.cluster, WS_NS));
      if (pods.length !== 1) throw new Error(`expected one Ready workspace agent pod, found ${pods.length}`);
      return podName(pods[0]!);
    },
    async patchDeployment(name, change) {
      const {
        name: _n,
        generation: _g,
        ...body
      } = (await sys.cp.admin.getDeployment(WS, name)) as DeploymentSpec;
      const res = await sys.cp.admin.putDeployment(WS, name, change(body as DeploymentBody));
      return res.deployment.generation;
    },
  };
}

export { NAMESPACE, WS, WS_NS };
