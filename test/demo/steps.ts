// What `npm run demo` does once the cluster, node simulator and control plane run: install the
// chart like a customer, wait for the agents and their leader, create a workspace and a Flink
// deployment through the control plane's admin API, and wait until the job runs. Every step is
// idempotent, so running `up` again on a running demo finishes what a failed run left undone.
import type { Cluster } from "../cluster/index.ts";
import { TEST_S3_CREDENTIALS } from "../cluster/s3/s3-server.ts";
import { AdminClient } from "../control-plane/admin-client.ts";
import {
  AGENT_SELECTOR,
  applySecrets,
  createTokenSecret,
  existingAgentToken,
  helmUpgradeInstall,
  NAMESPACE,
} from "../e2e/chart.ts";
import { type Kubectl, podLogTails, waitFor } from "../e2e/kube.ts";
import {
  agentPods,
  flinkPods,
  holderPod,
  leaseHolder,
  podName,
  readyPods,
  WORKSPACE_AGENT_SELECTOR,
  workspaceAgentPods,
} from "../e2e/observe.ts";
import { missingAgents, NotBuiltError } from "../e2e/prerequisites.ts";
import {
  exampleDeployment,
  STATEFUL_EXAMPLE_ENTRY_CLASS,
  workspaceBody,
  workspaceNamespace,
} from "../e2e/workload.ts";
import type { Progress } from "./progress.ts";
import { type DemoState, demoDir } from "./state.ts";

export const DEMO_AGENT_ID = "demo-cluster";
export const DEMO_WORKSPACE = "demo";
export const DEMO_NAMESPACE = workspaceNamespace(DEMO_WORKSPACE);
export const DEMO_DEPLOYMENT = "state-machine";
const SEC = 1000;
/** The Secret in the demo workspace's namespace with the S3 server's (test) access keys. */
export const DEMO_STORAGE_SECRET = "demo-s3-keys";

/** `s3://<bucket>/workspaces/<workspace>/`: the demo workspace's storage.baseURI. */
export const demoStorageBase = (bucket: string): string => `s3://${bucket}/workspaces/${DEMO_WORKSPACE}/`;

export interface DemoResult {
  /** The JobManager pod's IP: its REST API answers on <ip>:8081 from the host. */
  jobManagerIP: string | undefined;
  jobId: string | undefined;
}

/** Waits with the step's note showing what was seen last; on timeout the error lists the pods. */
function waitNoting<T>(
  k: Kubectl,
  note: (s: string) => void,
  what: string,
  timeoutMs: number,
  check: (observe: (s: string) => void) => Promise<T | undefined | false>,
): Promise<T> {
  return waitFor(
    what,
    (observe) =>
      check((s) => {
        observe(s);
        note(s);
      }),
    {
      timeoutMs,
      diagnose: async () =>
        `--- kubectl get pods -A:\n${(await k.kubectl(["get", "pods", "-A"])).stdout.trimEnd()}`,
    },
  );
}

export async function runDemoSteps(
  p: Progress,
  cluster: Cluster,
  controlPlaneUrl: string,
  s3?: DemoState["s3"],
): Promise<DemoResult> {
  const admin = new AdminClient(controlPlaneUrl);
  const agentLogs = () => podLogTails(cluster, NAMESPACE, AGENT_SELECTOR, 20);
  const wsAgentLogs = () => podLogTails(cluster, DEMO_NAMESPACE, WORKSPACE_AGENT_SELECTOR, 20);

  await p.step(
    `helm install meridian-agent into ${NAMESPACE} (2 replicas, token in a Secret)`,
    async (note) => {
      const notBuilt = missingAgents();
      if (notBuilt.length > 0) throw new NotBuiltError(notBuilt);
      note("agent token");
      let token = await existingAgentToken(cluster);
      if (!token || !(await admin.getAgent(DEMO_AGENT_ID).catch(() => undefined))) {
        token = (await admin.createAgent(DEMO_AGENT_ID)).token;
      }
      await createTokenSecret(cluster, token);
      note("helm upgrade --install");
      await helmUpgradeInstall({
        kubeconfig: cluster.kubeconfigPath,
        dir: demoDir(),
        controlPlaneUrl,
        agentId: DEMO_AGENT_ID,
        // The local policy lets workspaces keep state in the demo bucket, through the S3 server.
        ...(s3 && {
          extraValues: {
            policy: {
              storage: {
                allowedURIs: [`s3://${s3.bucket}/`],
                s3: { endpoint: s3.endpoint, pathStyleAccess: true },
              },
            },
          },
        }),
      });
    },
  );

  await p.step(
    "agent pods Ready, one leader elected (Lease)",
    async (note) => {
      const pods = await waitNoting(cluster, note, "two Ready agent pods", 120 * SEC, async (observe) => {
        const all = await agentPods(cluster);
        observe(`${readyPods(all).length}/2 ready`);
        return readyPods(all).length === 2 ? readyPods(all) : undefined;
      });
      await waitNoting(cluster, note, "a Lease holder", 60 * SEC, async (observe) => {
        const h = await leaseHolder(cluster);
        observe(`holder: ${h ?? "none yet"}`);
        return holderPod(h, pods);
      });
    },
    agentLogs,
  );

  await p.step(
    "agent connected to the control plane (heartbeat)",
    (note) =>
      waitNoting(cluster, note, "an agent heartbeat", 60 * SEC, async (observe) => {
        const r = await admin.getAgent(DEMO_AGENT_ID);
        observe(`last heartbeat: ${r.lastHeartbeatAt ?? "none yet"}`);
        return r.lastHeartbeatAt ? r : undefined;
      }),
    agentLogs,
  );

  await p.step(
    `workspace ${DEMO_WORKSPACE}: namespace ${DEMO_NAMESPACE}, workspace agent Ready`,
    async (note) => {
      await admin.putWorkspace(DEMO_AGENT_ID, DEMO_WORKSPACE, {
        ...workspaceBody("Meridian demo"),
        ...(s3 && {
          storage: { baseURI: demoStorageBase(s3.bucket), credentialsSecret: DEMO_STORAGE_SECRET },
        }),
      });
      if (s3) {
        // The S3 server's access keys, as a customer without a cloud identity would give them.
        // Active: after a delete of the workspace, the old namespace stays Terminating for a while.
        await waitNoting(cluster, note, `namespace ${DEMO_NAMESPACE} Active`, 120 * SEC, async (observe) => {
          const r = await cluster.kubectl([
            "get",
            "namespace",
            DEMO_NAMESPACE,
            "-o",
            "jsonpath={.status.phase}",
          ]);
          observe(`namespace ${DEMO_NAMESPACE}: ${r.stdout.trim() || "not yet"}`);
          return r.stdout.trim() === "Active";
        });
        note("storage keys Secret");
        await applySecrets(cluster, DEMO_NAMESPACE, {
          [DEMO_STORAGE_SECRET]: {
            AWS_ACCESS_KEY_ID: TEST_S3_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: TEST_S3_CREDENTIALS.secretAccessKey,
          },
        });
      }
      await waitNoting(cluster, note, "a Ready workspace agent", 120 * SEC, async (observe) => {
        const pods = await workspaceAgentPods(cluster, DEMO_NAMESPACE);
        observe(pods.length ? `${pods.map(podName).join(", ")}` : `waiting for ${DEMO_NAMESPACE}`);
        return readyPods(pods).length === 1;
      });
      await waitNoting(cluster, note, "a workspace agent heartbeat", 60 * SEC, async (observe) => {
        const ws = await admin.getWorkspace(DEMO_WORKSPACE);
        observe(`workspace heartbeat: ${ws.lastHeartbeatAt ?? "none yet"}`);
        return ws.lastHeartbeatAt !== null;
      });
    },
    async () => `${await agentLogs()}\n${await wsAgentLogs()}`,
  );

  return p.step(
    `Flink deployment ${DEMO_DEPLOYMENT} (${s3 ? "TopSpeedWindowing" : "StateMachineExample"}, 1 JobManager + 1 TaskManager${s3 ? ", state in S3" : ""}): job RUNNING`,
    async (note) => {
      // With the bucket: a job whose state checkpoints (workload.ts), stateful (SAVEPOINT), a checkpoint
      // every 30 s, so there is state to look at; a failed checkpoint (a busy laptop) does not restart
      // the job. Kubernetes HA off: its job result store cannot start on S3Proxy's file backend (the
      // JobManager finds no ha/job-result-store/).
      const example = exampleDeployment();
      const stateful = s3 && {
        job: { ...example.job, entryClass: STATEFUL_EXAMPLE_ENTRY_CLASS },
        upgradeMode: "SAVEPOINT" as const,
        flinkConfiguration: {
          "execution.checkpointing.interval": "30 s",
          "execution.checkpointing.tolerable-failed-checkpoints": "10",
          "high-availability.type": "NONE",
        },
      };
      await admin.putDeployment(DEMO_WORKSPACE, DEMO_DEPLOYMENT, { ...example, ...stateful });
      const st = await waitNoting(cluster, note, "job RUNNING", 300 * SEC, async (observe) => {
        const s = await admin.getDeploymentStatus(DEMO_WORKSPACE, DEMO_DEPLOYMENT);
        observe(s ? `phase ${s.phase}, job ${s.job.state}` : "no status yet");
        return s?.job.state === "RUNNING" ? s : undefined;
      });
      const { jobManagers } = await flinkPods(cluster, DEMO_NAMESPACE, DEMO_DEPLOYMENT);
      return { jobManagerIP: jobManagers[0]?.status?.podIP, jobId: st.job.id };
    },
    async () =>
      `${await wsAgentLogs()}\n${await podLogTails(cluster, DEMO_NAMESPACE, `meridian.dev/deployment=${DEMO_DEPLOYMENT}`, 20)}`,
  );
}
