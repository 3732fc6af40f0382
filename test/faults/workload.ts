// What runs on the campaign's system before the first fault: the agent installed with the chart (two
// replicas, pinned to the agents' node), one workspace, the verification job, and objects of the
// customer's own that Meridian must never touch.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { AGENT_SELECTOR, createTokenSecret, localValues, NAMESPACE, RELEASE } from "../e2e/chart.ts";
import { kubectlOk, waitFor } from "../e2e/kube.ts";
import { agentPods, readyPods, workspaceAgentPods } from "../e2e/observe.ts";
import { workspaceBody, workspaceNamespace } from "../e2e/workload.ts";
import { CHART_DIR, helm } from "../helm/helm.ts";
import type { ExactlyOnceParams } from "./exactly-once.ts";
import { AGENTS_TAINT, type CampaignSystem } from "./system.ts";
import { localOutputDir, type VerifyRun, verifyDeployment } from "./verify-job.ts";

export const AGENT_ID = "faults-cluster";
export const WS = "faults";
export const WS_NS = workspaceNamespace(WS);
export const VERIFY = "verify";
/** The customer's own objects: an unlabelled namespace and a ConfigMap in the workspace namespace. */
export const CUSTOMER_NAMESPACE = "customer-owned";
export const CUSTOMER_CONFIGMAP = "customer-data";
/** Tens of minutes of numbers at 20 a second: the job outlives the campaign and is checked as it goes. */
export const VERIFY_RUN: VerifyRun = {
  count: 100_000,
  keys: 8,
  rate: 20,
  output: `/flink-data/verify/${VERIFY}`,
};
export const VERIFY_PARAMS: ExactlyOnceParams = { count: VERIFY_RUN.count, keys: VERIFY_RUN.keys };
const SEC = 1000;

let verifyRun: VerifyRun = VERIFY_RUN;
let freshStarts = 0;

/** Where the current verification job's committed output lands on this machine. */
export const verifyOutputDir = (sys: CampaignSystem) => localOutputDir(sys.dataDir, verifyRun.output);

async function verifyRunning(sys: CampaignSystem): Promise<void> {
  await waitFor(
    "the verification job RUNNING",
    async (observe) => {
      const s = await sys.cp.admin.getDeploymentStatus(WS, VERIFY);
      observe(s ? `phase ${s.phase}, job ${s.job.state}` : "no status yet");
      return s?.job.state === "RUNNING";
    },
    { timeoutMs: 300 * SEC },
  );
}

/**
 * Deletes the verification job and starts it again without state, writing to a new directory: after a
 * fault that sent it back to an old restore point it replays for as long as it had run, and the next
 * scenario would be blamed for that replay. A delete that cannot take its savepoint is forced.
 */
export async function freshVerifyJob(sys: CampaignSystem): Promise<void> {
  await sys.cp.admin.deleteDeployment(WS, VERIFY);
  const cm = `/api/v1/namespaces/${WS_NS}/configmaps/${VERIFY}-flink-config`;
  let forced = false;
  const started = Date.now();
  await waitFor(
    "the verification job deleted",
    async () => {
      if ((await sys.cluster.request("GET", cm)).status === 404) return true;
      if (!forced && Date.now() - started > 60 * SEC) {
        forced = true;
        await kubectlOk(sys.cluster, [
          "annotate",
          "-n",
          WS_NS,
          "configmap",
          `${VERIFY}-flink-config`,
          "meridian.dev/force-delete=true",
        ]);
      }
      return false;
    },
    { timeoutMs: 240 * SEC },
  );
  verifyRun = { ...VERIFY_RUN, output: `${VERIFY_RUN.output}-${++freshStarts}` };
  await sys.cp.admin.putDeployment(WS, VERIFY, verifyDeployment(verifyRun));
  await verifyRunning(sys);
}

/** `helm install` as in docs/install.md, with the agents pinned to the agents' node. */
export async function installAgent(sys: CampaignSystem): Promise<string> {
  const { token } = await sys.cp.admin.createAgent(AGENT_ID);
  await createTokenSecret(sys.cluster, token);
  const values = {
    ...localValues({
      kubeconfig: sys.cluster.kubeconfigPath,
      dir: sys.dir,
      controlPlaneUrl: sys.cp.url,
      agentId: AGENT_ID,
    }),
    // The control plane serves HTTPS with a certificate of the campaign CA, behind a CONNECT proxy.
    customCA: { pem: sys.caPem },
    proxy: { httpsProxy: sys.cpProxy.url },
    nodeSelector: { [AGENTS_TAINT.key]: AGENTS_TAINT.value },
    tolerations: [
      { key: AGENTS_TAINT.key, operator: "Equal", value: AGENTS_TAINT.value, effect: "NoSchedule" },
    ],
  };
  const path = join(sys.dir, "meridian-values.yaml");
  await writeFile(path, stringify(values));
  const res = await helm(["install", RELEASE, CHART_DIR, "-n", NAMESPACE, "-f", path], {
    kubeconfig: sys.cluster.kubeconfigPath,
  });
  if (res.code !== 0) throw new Error(`helm install failed (exit ${res.code}): ${res.stderr.trim()}`);
  await waitFor(
    "two Ready agent pods",
    async (observe) => {
      const pods = await agentPods(sys.cluster);
      observe(`${pods.length} agent pods, ${readyPods(pods).length} Ready`);
      return readyPods(pods).length === 2;
    },
    { timeoutMs: 180 * SEC },
  );
  await sys.cp.admin.waitForStreams({ stream: "agent", target: AGENT_ID }, 60 * SEC);
  return token;
}

/** The workspace, the customer's objects and the verification job, RUNNING. */
export async function createWorkload(sys: CampaignSystem): Promise<void> {
  await kubectlOk(sys.cluster, ["create", "namespace", CUSTOMER_NAMESPACE]);
  await kubectlOk(sys.cluster, [
    "create",
    "configmap",
    "-n",
    CUSTOMER_NAMESPACE,
    "keep-me",
    "--from-literal=a=b",
  ]);
  await sys.cp.admin.putWorkspace(AGENT_ID, WS, workspaceBody("fault campaign"));
  await waitFor(
    "a Ready workspace agent",
    async (observe) => {
      const pods = await workspaceAgentPods(sys.cluster, WS_NS);
      observe(`${pods.length} workspace agent pods, ${readyPods(pods).length} Ready`);
      return readyPods(pods).length === 1;
    },
    { timeoutMs: 180 * SEC },
  );
  await kubectlOk(sys.cluster, [
    "create",
    "configmap",
    "-n",
    WS_NS,
    CUSTOMER_CONFIGMAP,
    "--from-literal=k=v",
  ]);
  await sys.cp.admin.putDeployment(WS, VERIFY, verifyDeployment(verifyRun));
  await verifyRunning(sys);
}

/** The customer's objects, for the inventory (they carry no Meridian label). */
export const CUSTOMER_OBJECTS: Array<[string, string, string]> = [
  ["Namespace", "/api/v1/namespaces", CUSTOMER_NAMESPACE],
  ["ConfigMap", `/api/v1/namespaces/${CUSTOMER_NAMESPACE}/configmaps`, "keep-me"],
  ["ConfigMap", `/api/v1/namespaces/${WS_NS}/configmaps`, CUSTOMER_CONFIGMAP],
];

export { AGENT_SELECTOR, NAMESPACE };
