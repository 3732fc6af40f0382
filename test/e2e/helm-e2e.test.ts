// The whole system, end to end, on the local cluster: `helm install` the chart against the
// reference control plane, then a workspace and a Flink job created through the control plane's
// admin API, the logs, a `helm upgrade` that rolls the agent but not the job, and a `helm uninstall`
// that leaves workspaces and jobs running. Steps run in order on one system; a step after a failed
// one fails at once, naming it. Waits are generous and fail with the pod list and log tails.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { createLogger } from "@meridian/shared/log";
import {
  AGENT_SELECTOR,
  createTokenSecret,
  helmInstall,
  helmUninstall,
  helmUpgrade,
  NAMESPACE,
} from "./chart.ts";
import { clusterDiagnostics, describePods, getJson, podLogTails, waitFor } from "./kube.ts";
import { assertNoCredential, type Credential, parseJsonLines } from "./logs.ts";
import {
  agentPods,
  flinkPods,
  holderPod,
  leaseHolder,
  podCommandLines,
  podName,
  podUid,
  readyPods,
  WORKSPACE_AGENT_DEPLOYMENT,
  workspaceAgentPods,
  workspaceToken,
} from "./observe.ts";
import { missingAgents, NotBuiltError, type System, startSystem } from "./system.ts";
import { exampleDeployment, workspaceBody, workspaceNamespace } from "./workload.ts";

const AGENT_ID = "e2e-cluster";
const WS = "e2e";
const WS_NS = workspaceNamespace(WS);
const DEPLOYMENT = "state-machine";
const SEC = 1000;

let sys: System;
let dir: string;
let agentToken: string;
const cpLog = new PassThrough();
let cpLogText = "";
cpLog.on("data", (chunk: Buffer) => {
  cpLogText += chunk.toString("utf8");
});
let failedStep: string | undefined;
/** What the Flink deployment looked like when it first ran: must survive upgrade and uninstall. */
let flinkBefore: { names: string[]; uids: string[]; pids: number[]; jobId: string };

const installOpts = (logLevel = "info") => ({
  kubeconfig: sys.cluster.kubeconfigPath,
  dir,
  controlPlaneUrl: sys.cp.url,
  agentId: AGENT_ID,
  logLevel,
});

const diagnose = () =>
  clusterDiagnostics(sys.cluster, [
    { namespace: NAMESPACE, selector: AGENT_SELECTOR },
    { namespace: WS_NS, selector: "app.kubernetes.io/part-of=meridian" },
  ]);
const wait = <T>(what: string, timeoutMs: number, check: Parameters<typeof waitFor<T>>[1]) =>
  waitFor(what, check, { timeoutMs, diagnose });

/** A step of the story; once one fails the rest fail at once instead of timing out one by one. */
function step(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    if (failedStep) throw new Error(`not attempted: the earlier step "${failedStep}" failed`);
    try {
      await fn();
    } catch (err) {
      failedStep = name;
      throw err;
    }
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "meridian-e2e-"));
  sys = await startSystem({
    dir,
    dbPath: join(dir, "control-plane.db"),
    controlPlaneLogger: createLogger({ component: "control-plane", destination: cpLog }),
  });
});

after(async () => {
  await sys?.stop();
  if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
});

/** Two Ready agent pods, none of them in `not` (names of an earlier ReplicaSet), and nothing else. */
const twoReadyAgents = (not: Set<string>) => async (observe: (s: string) => void) => {
  const pods = await agentPods(sys.cluster);
  observe(
    pods.map((p) => `${podName(p)}${p.metadata?.deletionTimestamp ? "(terminating)" : ""}`).join(", ") ||
      "no agent pods",
  );
  const ready = readyPods(pods).filter((p) => !not.has(podName(p)));
  return pods.length === 2 && ready.length === 2 ? ready : undefined;
};

/** Flink pods and job exactly as before, and the workspace agent has reported since `since`. */
async function assertFlinkUntouched(since: number, what: string): Promise<void> {
  await wait(`a workspace status newer than the ${what}, with the job RUNNING`, 90 * SEC, async (observe) => {
    const ws = await sys.cp.admin.getWorkspace(WS);
    const st = await sys.cp.admin.getDeploymentStatus(WS, DEPLOYMENT);
    observe(`heartbeat ${ws.lastHeartbeatAt}, job ${st?.job.state} ${st?.job.id}`);
    return Date.parse(ws.lastHeartbeatAt ?? "0") > since && st?.job.state === "RUNNING" ? st : undefined;
  }).then((st) => assert.equal(st.job.id, flinkBefore.jobId, `the ${what} changed the Flink job id`));
  const { jobManagers, taskManagers } = await flinkPods(sys.cluster, WS_NS, DEPLOYMENT);
  const pods = [...jobManagers, ...taskManagers];
  const uids = pods.map(podUid).sort();
  if (JSON.stringify(uids) !== JSON.stringify(flinkBefore.uids)) {
    const events = await sys.cluster.kubectl(["get", "events", "-n", WS_NS, "--sort-by=.lastTimestamp"]);
    throw new Error(
      `the ${what} replaced JobManager/TaskManager pods: before ${flinkBefore.names.join(", ")} ` +
        `(${flinkBefore.uids.join(", ")}), now ${describePods(pods)} (${uids.join(", ")})\n` +
        `--- events in ${WS_NS}:\n${events.stdout.trimEnd().split("\n").slice(-20).join("\n")}\n` +
        (await podLogTails(sys.cluster, WS_NS, `meridian.dev/deployment=${DEPLOYMENT}`, 20)),
    );
  }
  assert.equal(readyPods(jobManagers).length, 1, `JobManager not Ready after the ${what}`);
  const pids = pods.flatMap((p) => sys.sim.podProcesses(WS_NS, podName(p))).sort();
  assert.deepEqual(pids, flinkBefore.pids, `the ${what} restarted a Flink JVM`);
}

/** The workspace agent Deployment has the agent's log level and exactly one Ready, up-to-date pod. */
async function workspaceAgentRolledOut(logLevel: string): Promise<void> {
  type Deploy = {
    metadata: { generation: number };
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
    status: {
      observedGeneration?: number;
      replicas?: number;
      updatedReplicas?: number;
      readyReplicas?: number;
    };
  };
  await wait(`the workspace agent rolled out with log level ${logLevel}`, 120 * SEC, async (observe) => {
    const d = await getJson<Deploy>(sys.cluster, ["deployment", "-n", WS_NS, WORKSPACE_AGENT_DEPLOYMENT]);
    const level = d?.spec.template.spec.containers[0]?.env?.find(
      (e) => e.name === "MERIDIAN_LOG_LEVEL",
    )?.value;
    const st = d?.status;
    const pods = await workspaceAgentPods(sys.cluster, WS_NS);
    observe(`level ${level}, status ${JSON.stringify(st)}, pods ${describePods(pods)}`);
    return (
      level === logLevel &&
      st?.observedGeneration === d?.metadata.generation &&
      st?.replicas === 1 &&
      st.updatedReplicas === 1 &&
      st.readyReplicas === 1 &&
      pods.length === 1 &&
      readyPods(pods).length === 1
    );
  });
}

step("helm install: two agent pods run the real agent as processes and become Ready", async () => {
  const notBuilt = missingAgents();
  if (notBuilt.length > 0) throw new NotBuiltError(notBuilt);
  agentToken = (await sys.cp.admin.createAgent(AGENT_ID)).token;
  await createTokenSecret(sys.cluster, agentToken);
  const notes = await helmInstall(installOpts());
  assert.match(notes, /Meridian agent .* is installed/);
  const pods = await wait("two Ready agent pods", 120 * SEC, twoReadyAgents(new Set()));
  for (const pod of pods) {
    const cmds = podCommandLines(sys.sim, NAMESPACE, podName(pod));
    assert.ok(
      cmds.some((c) => c.includes("agent/dist/main.js run")),
      `${podName(pod)} does not run the agent's bundle agent/dist/main.js: ${cmds.join(" | ") || "no process"}`,
    );
  }
});

step("one agent holds the Lease and that leader streams from and reports to the control plane", async () => {
  const pods = await agentPods(sys.cluster);
  const holder = await wait("a Lease holder that is one of the agent pods", 60 * SEC, async (observe) => {
    const h = await leaseHolder(sys.cluster);
    observe(`holder ${h ?? "none"}`);
    return holderPod(h, pods) ? h : undefined;
  });
  await sys.cp.admin.waitForStreams({ stream: "agent", target: AGENT_ID }, 30 * SEC);
  const record = await wait("an agent heartbeat naming the leader", 60 * SEC, async (observe) => {
    const r = await sys.cp.admin.getAgent(AGENT_ID);
    observe(`heartbeat ${r.lastHeartbeatAt}, leader ${r.status?.agent.leader}`);
    return r.lastHeartbeatAt && r.status?.agent.leader === holder ? r : undefined;
  });
  assert.ok(record.status?.agent.kubernetesVersion.includes("1.35"), JSON.stringify(record.status?.agent));
});

step("a workspace created through the admin API gets its namespace and a Ready workspace agent", async () => {
  await sys.cp.admin.putWorkspace(AGENT_ID, WS, workspaceBody("e2e workspace"));
  const ns = await wait(`namespace ${WS_NS}`, 60 * SEC, () =>
    getJson<{ metadata: { labels?: Record<string, string> } }>(sys.cluster, ["namespace", WS_NS]),
  );
  assert.equal(ns.metadata.labels?.["meridian.dev/workspace"], WS);
  const [pod] = await wait("a Ready workspace agent pod", 120 * SEC, async (observe) => {
    const pods = await workspaceAgentPods(sys.cluster, WS_NS);
    observe(pods.map(podName).join(", ") || "no workspace agent pod");
    const ready = readyPods(pods);
    return ready.length === 1 ? ready : undefined;
  });
  const cmds = podCommandLines(sys.sim, WS_NS, podName(pod!));
  assert.ok(
    cmds.some((c) => c.includes("workspace-agent/dist/main.js run")),
    cmds.join(" | "),
  );
  await wait(
    "workspace Ready in the agent's status and a workspace agent heartbeat",
    60 * SEC,
    async (observe) => {
      const status = await sys.cp.admin.getAgentStatus(AGENT_ID);
      const ws = status?.workspaces.find((w) => w.id === WS);
      const rec = await sys.cp.admin.getWorkspace(WS);
      observe(`phase ${ws?.phase}, workspace heartbeat ${rec.lastHeartbeatAt}`);
      return ws?.phase === "Ready" && ws.namespace === WS_NS && rec.lastHeartbeatAt ? true : undefined;
    },
  );
});

step("a Flink deployment reaches job RUNNING on real JVMs", async () => {
  await sys.cp.admin.putDeployment(WS, DEPLOYMENT, exampleDeployment());
  const st = await wait("job RUNNING in the deployment status", 300 * SEC, async (observe) => {
    const s = await sys.cp.admin.getDeploymentStatus(WS, DEPLOYMENT);
    observe(s ? `phase ${s.phase}, job ${s.job.state}, TMs ready ${s.taskManagers.ready}` : "no status yet");
    const ready = s?.conditions.find((c) => c.type === "Ready")?.status === "True";
    return s?.job.state === "RUNNING" && s.job.id && ready ? s : undefined;
  });
  const { jobManagers, taskManagers } = await flinkPods(sys.cluster, WS_NS, DEPLOYMENT);
  assert.equal(jobManagers.length, 1);
  assert.equal(taskManagers.length, 1);
  // The job the status names runs in this JobManager (not in another cluster's on the same pod IP).
  const jmLog = await sys.cluster.kubectl(["logs", "-n", WS_NS, podName(jobManagers[0]!)]);
  assert.ok(jmLog.stdout.includes(st.job.id!), `job ${st.job.id} not in the JobManager's log`);
  const pods: V1Pod[] = [...jobManagers, ...taskManagers];
  for (const p of pods) {
    const cmds = podCommandLines(sys.sim, WS_NS, podName(p));
    assert.ok(
      cmds.some((c) => /java .*org\.apache\.flink\./.test(c)),
      `${podName(p)}: ${cmds.join(" | ")}`,
    );
  }
  flinkBefore = {
    names: pods.map(podName),
    uids: pods.map(podUid).sort(),
    pids: pods.flatMap((p) => sys.sim.podProcesses(WS_NS, podName(p))).sort(),
    jobId: st.job.id!,
  };
});

step("kubectl logs of both agents and the workspace agent are JSON lines without a credential", async () => {
  const wsToken = await workspaceToken(sys.cluster, WS_NS);
  assert.ok(wsToken, "no token in the workspace credential Secret");
  const credentials: Credential[] = [
    { name: "agent token", value: agentToken },
    { name: "workspace token", value: wsToken },
  ];
  const sources = [
    ["-n", NAMESPACE, "deploy/meridian-agent"],
    ...(await agentPods(sys.cluster)).map((p) => ["-n", NAMESPACE, podName(p)]),
    ["-n", WS_NS, `deploy/${WORKSPACE_AGENT_DEPLOYMENT}`],
  ];
  for (const args of sources) {
    const res = await sys.cluster.kubectl(["logs", ...args]);
    const source = `kubectl logs ${args.join(" ")}`;
    assert.equal(res.code, 0, `${source}: ${res.stderr}`);
    const lines = parseJsonLines(res.stdout, source);
    assert.ok(lines.length > 0, `${source} printed nothing`);
    assertNoCredential(res.stdout, credentials, source);
  }
  assertNoCredential(cpLogText, credentials, "the control plane's log");
});

step("helm upgrade with a new logLevel rolls the agent and leaves the Flink job alone", async () => {
  const old = await agentPods(sys.cluster);
  const oldNames = new Set(old.map(podName));
  const oldHash = old[0]?.metadata?.labels?.["pod-template-hash"];
  const started = Date.now();
  await helmUpgrade(installOpts("debug"));
  const pods = await wait("two new Ready agent pods and no old one", 180 * SEC, twoReadyAgents(oldNames));
  for (const p of pods)
    assert.notEqual(p.metadata?.labels?.["pod-template-hash"], oldHash, "same ReplicaSet");
  await wait("a Lease holder among the new pods", 60 * SEC, async (observe) => {
    const h = await leaseHolder(sys.cluster);
    observe(`holder ${h ?? "none"}`);
    return holderPod(h, pods) ? h : undefined;
  });
  await wait("an agent heartbeat from the new leader", 60 * SEC, async (observe) => {
    const r = await sys.cp.admin.getAgent(AGENT_ID);
    observe(`heartbeat ${r.lastHeartbeatAt}, leader ${r.status?.agent.leader}`);
    return Date.parse(r.lastHeartbeatAt ?? "0") > started && holderPod(r.status?.agent.leader, pods)
      ? r
      : undefined;
  });
  for (const p of old)
    assert.deepEqual(sys.sim.podProcesses(NAMESPACE, podName(p)), [], `${podName(p)} still runs`);
  await workspaceAgentRolledOut("debug");
  await assertFlinkUntouched(started, "helm upgrade");
});

step("helm uninstall removes the agent; the workspace and its Flink job keep running", async () => {
  const old = await agentPods(sys.cluster);
  const started = Date.now();
  await helmUninstall(sys.cluster.kubeconfigPath);
  await wait("the agent Deployment and pods gone", 90 * SEC, async (observe) => {
    const pods = await agentPods(sys.cluster);
    const deploy = await getJson(sys.cluster, ["deployment", "-n", NAMESPACE, "meridian-agent"]);
    observe(`deployment ${deploy ? "present" : "gone"}, pods ${pods.map(podName).join(", ") || "none"}`);
    return !deploy && pods.length === 0;
  });
  for (const p of old)
    assert.deepEqual(sys.sim.podProcesses(NAMESPACE, podName(p)), [], `${podName(p)} still runs`);
  const ns = await getJson<{ status: { phase: string } }>(sys.cluster, ["namespace", WS_NS]);
  assert.equal(
    ns?.status.phase,
    "Active",
    `namespace ${WS_NS} after uninstall: ${JSON.stringify(ns?.status)}`,
  );
  assert.equal(
    readyPods(await workspaceAgentPods(sys.cluster, WS_NS)).length,
    1,
    "workspace agent not Ready",
  );
  await assertFlinkUntouched(started, "helm uninstall");
});
