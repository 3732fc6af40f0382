// What `npm run demo` prints once the Flink job runs: how to look at every part with standard tools.
import { join, relative } from "node:path";
import { kubeBinDir } from "../cluster/paths.ts";
import { NAMESPACE } from "../e2e/chart.ts";
import { WORKSPACE_AGENT_DEPLOYMENT } from "../e2e/observe.ts";
import { controlPlaneLogPath, type DemoState, demoDir, serveLogPath } from "./state.ts";
import { DEMO_AGENT_ID, DEMO_DEPLOYMENT, DEMO_NAMESPACE, DEMO_WORKSPACE, type DemoResult } from "./steps.ts";

const rel = (path: string) => relative(process.cwd(), path) || ".";

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
    `Logs of the demo itself: ${rel(serveLogPath())}, ${rel(controlPlaneLogPath())}; ` +
      (state.realNode
        ? `the real node's (kubelet, containerd, kube-proxy) under ${rel(join(demoDir(), "cluster-logs"))}`
        : `pod logs under ${rel(join(demoDir(), "system"))}`),
    `Helm 4: ${rel(helmPath)} (same KUBECONFIG) — upgrade or uninstall the release as docs/install.md shows`,
    "Stop everything: npm run demo:down",
  ];
  return lines.join("\n");
}
