// The workspace agent under churn: one workspace agent process (the image's runtime, its
// workspace's ServiceAccount) on the local cluster with simulated nodes and the reference control
// plane; N Flink deployments (an image the node simulator does not run, so no JVM starts) filled,
// then creates, updates (TaskManagers 1 ↔ 2) and deletes at a steady rate, while its memory, the
// status the control plane receives and every ConfigMap's generation are recorded. At the end the
// control plane's change log is held against what was applied (workspace-agent-checks.ts).
import { join } from "node:path";
import {
  LABEL_DEPLOYMENT,
  MANAGED_BY_WORKSPACE_AGENT,
  managedBySelector,
} from "@meridian/shared/kube/labels";
import { CONFIG_MAPS } from "@meridian/shared/kube/resources";
import { names } from "../../../workspace-agent/src/flink/objects.ts";
import { storedGeneration } from "../../../workspace-agent/src/flink/stored-state.ts";
import type { DeploymentBody } from "../../control-plane/index.ts";
import { createWorkspace, type Env, SIMULATED, startEnv } from "../../workspace-agent/harness.ts";
import { spawnWorkspaceAgent } from "../lib/workspace-agent-process.ts";
import { Churn, type ChurnTarget } from "./churn.ts";
import { readExpected } from "./expected.ts";
import { AppliedJournal } from "./journal.ts";
import { MemorySampler } from "./memory.ts";
import { runCourse, type SoakResult, type SoakRun } from "./run.ts";
import { StatusWatch } from "./status-watch.ts";
import { checkWorkspaceAgent, reportedDeployments } from "./workspace-agent-checks.ts";

export interface WorkspaceAgentSoakOptions extends SoakRun {
  deployments: number;
}

const deployments = (env: Env, workspaceId: string): ChurnTarget<DeploymentBody> => ({
  create: () => SIMULATED,
  update: (b) => ({
    ...b,
    taskManager: { ...b.taskManager, replicas: b.taskManager.replicas === 2 ? 1 : 2 },
  }),
  put: async (name, body) =>
    (await env.cp.admin.putDeployment(workspaceId, name, body)).deployment.generation,
  del: (name) => env.cp.admin.deleteDeployment(workspaceId, name),
});

export async function soakWorkspaceAgent(o: WorkspaceAgentSoakOptions): Promise<SoakResult> {
  // Two simulated nodes: 50 deployments at two TaskManagers are 150 pods, past one node's 110.
  const log = o.log ?? (() => {});
  const env = await startEnv({ nodes: 2 });
  log("workspace agent: cluster, nodes and control plane up");
  const stops: (() => unknown)[] = [];
  try {
    const ws = await createWorkspace(env, "soak");
    const wsa = await spawnWorkspaceAgent(env, ws, {
      capture: true,
      logLevel: "info",
      env: { MERIDIAN_STATUS_INTERVAL_MS: String(o.heartbeatMs) },
    });
    stops.push(() => wsa.stop());
    await env.cp.admin.waitForStreams({ stream: "workspace", target: ws.id }, 60_000);
    const startId = (await env.cp.admin.streams()).headEventId;
    const journal = new AppliedJournal({
      client: env.admin,
      type: CONFIG_MAPS,
      namespace: ws.namespace,
      labelSelector: managedBySelector(MANAGED_BY_WORKSPACE_AGENT),
      keyOf: (cm) => {
        const d = cm.metadata?.labels?.[LABEL_DEPLOYMENT];
        return d !== undefined && cm.metadata?.name === names.configMap(d) ? d : undefined;
      },
      generationOf: (cm) => storedGeneration(cm as never)?.generation,
    });
    await journal.start();
    stops.push(() => journal.stop());
    const watch = new StatusWatch(async () => {
      const w = await env.cp.admin.getWorkspace(ws.id);
      return { receivedAt: w.lastHeartbeatAt, items: reportedDeployments(w.status) };
    });
    watch.start();
    stops.push(() => watch.stop());
    const memory = new MemorySampler(wsa.pid, o.sampleEveryMs, async () => {
      const text = await (await fetch(`http://127.0.0.1:${wsa.healthPort}/metrics`)).text();
      return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN);
    });
    stops.push(() => memory.stop());
    const expected = () => readExpected(join(env.dir, "cp.db"), "workspace", ws.id, startId);
    const check = async () =>
      checkWorkspaceAgent({
        expected: expected(),
        journal: journal.items,
        status: (await env.cp.admin.getWorkspace(ws.id)).status,
        logLines: wsa.lines,
        client: env.admin,
        namespace: ws.namespace,
      });
    const result = await runCourse(o, {
      what: "workspace agent",
      churn: new Churn(deployments(env, ws.id), "d-"),
      fill: { count: o.deployments, concurrency: 5 },
      watch,
      memory,
      expected,
      check,
    });
    if (wsa.child.exitCode !== null)
      result.problems.push(`the workspace agent exited with ${wsa.child.exitCode}`);
    return result;
  } finally {
    for (const stop of stops) await stop();
    await env.stop();
  }
}
