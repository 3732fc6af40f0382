// What `npm run demo` prints once the Flink job runs: how to look at every part with standard tools.
import { join, relative } from "node:path";
import { kubeBinDir } from "../cluster/paths.ts";
import { NAMESPACE } from "../e2e/chart.ts";
import { WORKSPACE_AGENT_DEPLOYMENT } from "../e2e/observe.ts";
import { controlPlaneLogPath, type DemoState, demoDir, serveLogPath } from "./state.ts";
import {
  DEMO_AGENT_ID,
  DEMO_DEPLOYMENT,
  DEMO_NAMESPACE,
  DEMO_STORAGE_SECRET,
  DEMO_WORKSPACE,
  type DemoResult,
  demoStorageBase,
} from "./steps.ts";

const rel = (path: string) => relative(process.cwd(), path) || ".";

/** Where the job's checkpoints and savepoints land, and how to make it write some. */
function storageLines(state: DemoState, cp: string): string[] {
  const deployment = `${cp}/admin/workspaces/${DEMO_WORKSPACE}/deployments/${DEMO_DEPLOYMENT}`;
  const s3 = state.s3;
  const area = s3
    ? `${demoStorageBase(s3.bucket)}${DEMO_DEPLOYMENT}`
    : `file:///flink-data/savepoints/${DEMO_DEPLOYMENT}`;
  return [
    s3
      ? `Flink state goes to the S3 bucket ${s3.bucket} (S3Proxy at ${s3.endpoint}, keys in Secret ${DEMO_STORAGE_SECRET}):`
      : "Flink state goes to the node's shared directory (no S3 server on the real node):",
    ...(s3
      ? [
          `  savepoints:  ${area}/savepoints/      checkpoints: ${area}/checkpoints/`,
          `  ls -R ${rel(join(s3.dataDir, s3.bucket, "workspaces", DEMO_WORKSPACE, DEMO_DEPLOYMENT))}   # the objects, as S3Proxy's file backend keeps them`,
        ]
      : [`  savepoints:  ${area}`]),
    "Take a savepoint (savepointNonce + 1), then see its location in the status (lastSavepoint):",
    `  curl -s ${deployment} | jq '.savepointNonce += 1' | curl -s -X PUT -H 'content-type: application/json' -d @- ${deployment}`,
    `  curl -s ${deployment}/status | jq .status.lastSavepoint`,
    "Delete the workspace: the job stops with a final savepoint before the namespace goes; the agent reports it,",
    "and a workspace created again with the same id restores from it (job.initialSavepointPath):",
    `  curl -s -X DELETE ${cp}/admin/agents/${DEMO_AGENT_ID}/workspaces/${DEMO_WORKSPACE}`,
    `  curl -s ${cp}/admin/agents/${DEMO_AGENT_ID} | jq '.status.workspaces[] | {id, phase, finalSavepoints}'`,
    "  npm run demo      # creates the workspace and the job again; then the job's restore point:",
    `  curl -s ${deployment}/status | jq .status.checkpoints.restored`,
  ];
}

export function nextSteps(state: DemoState, result: DemoResult, seconds: number, helmPath: string): string {
  const cp = state.controlPlaneUrl!;
  const kubectlDir = kubeBinDir();
  const lines = [
    "",
    `Meridian is running (ready in ${seconds.toFixed(0)} s): agent "${DEMO_AGENT_ID}" in ${NAMESPACE}, workspace`,
    `"${DEMO_WORKSPACE}" in ${DEMO_NAMESPACE}, Flink job ${result.jobId ?? "?"} RUNNING. Try:`,
    "",
    `  export KUBECONFIG=${state.kubeconfig}`,
    `  export PATH=${kubectlDir}:$PATH        # the kubectl built with the cluster`,
    "  kubectl get pods -A",
    `  kubectl logs -n ${NAMESPACE} deploy/meridian-agent                 # JSON lines; pick one: | jq -r .msg`,
    `  kubectl logs -n ${DEMO_NAMESPACE} deploy/${WORKSPACE_AGENT_DEPLOYMENT}`,
    `  kubectl get lease -n ${NAMESPACE} meridian-agent -o jsonpath='{.spec.holderIdentity}{"\\n"}'   # the leader`,
    `  kubectl get events -n ${DEMO_NAMESPACE}`,
    `  kubectl logs -n ${DEMO_NAMESPACE} ${DEMO_DEPLOYMENT}-jobmanager | tail`,
    "",
    "The control plane's admin API (what the vendor sees):",
    `  curl -s ${cp}/admin/agents/${DEMO_AGENT_ID}                                  # agent status, last heartbeat`,
    `  curl -s ${cp}/admin/workspaces/${DEMO_WORKSPACE}                                     # workspace agent status`,
    `  curl -s ${cp}/admin/workspaces/${DEMO_WORKSPACE}/deployments/${DEMO_DEPLOYMENT}/status   # the Flink job`,
    `  curl -s ${cp}/admin/streams                                                  # who is connected`,
    ...(result.jobManagerIP
      ? [
          "",
          state.realNode
            ? "Flink's own REST API (the JobManager pod's address is on the real node's bridge on this machine):"
            : "Flink's own REST API (the JobManager pod's address is a loopback IP on this machine):",
          `  curl -s http://${result.jobManagerIP}:8081/jobs/overview`,
        ]
      : []),
    "",
    ...storageLines(state, cp),
    "",
    `Logs of the demo itself: ${rel(serveLogPath())}, ${rel(controlPlaneLogPath())}; ` +
      (state.realNode
        ? `the real node's (kubelet, containerd, kube-proxy) under ${rel(join(demoDir(), "cluster-logs"))}`
        : `pod logs under ${rel(join(demoDir(), "system"))}`),
    `Helm 4: ${rel(helmPath)} (same KUBECONFIG) — upgrade or uninstall the release as docs/install.md shows`,
    "Stop everything: npm run demo:down",
  ];
  return lines.join("\n");
}
