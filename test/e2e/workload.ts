// The workspace and the Flink deployment the e2e test and the demo create through the control
// plane's admin API: the example streaming job that fetch-flink.sh puts into usrlib/ (the
// StateMachineExample runs forever with keyed state on a generated source), at the smallest size
// the node simulator's Flink handler runs (1 TaskManager with 1 slot).

import { flinkVersion } from "../cluster/flink/image-handler.ts";
import type { DeploymentBody, WorkspaceBody } from "../control-plane/index.ts";

export const EXAMPLE_ENTRY_CLASS = "org.apache.flink.streaming.examples.statemachine.StateMachineExample";
/**
 * The example job for checkpoints and savepoints: TopSpeedWindowing (windowed keyed state). Flink 2.3's
 * StateMachineExample keeps its state through the async state API, whose snapshot the default state
 * backend does not support ("UnsupportedOperationException: Not supported yet"): with checkpointing
 * on, every checkpoint fails its task and the job restarts for ever, so no savepoint can be taken.
 */
export const STATEFUL_EXAMPLE_ENTRY_CLASS = "org.apache.flink.streaming.examples.windowing.TopSpeedWindowing";

/** Namespace of a workspace under the chart's default prefix. */
export const workspaceNamespace = (workspaceId: string) => `mw-${workspaceId}`;

export function workspaceBody(displayName: string): WorkspaceBody {
  return { displayName, quota: { cpu: "8", memory: "8Gi", pods: 20 } };
}

/** The example job, as a control plane would send it. */
export function exampleDeployment(): DeploymentBody {
  const version = flinkVersion();
  return {
    image: `flink:${version}`,
    job: {
      jarURI: `local:///opt/flink/usrlib/flink-examples-streaming-${version}.jar`,
      entryClass: EXAMPLE_ENTRY_CLASS,
      args: [],
    },
    parallelism: 1,
    jobManager: { resources: { cpu: "500m", memory: "768Mi" } },
    taskManager: { resources: { cpu: "500m", memory: "1Gi" }, taskSlots: 1, replicas: 1 },
    flinkConfiguration: {},
    state: "RUNNING",
    upgradeMode: "STATELESS",
  };
}
