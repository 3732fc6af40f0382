// A minimal valid Flink deployment spec for tests: override what a test is about.
import {
  type DeploymentSpec,
  type DeploymentSpecInput,
  deploymentSpec,
} from "@meridian/shared/protocol/index";

export const SPEC_INPUT: DeploymentSpecInput = {
  name: "orders",
  generation: 1,
  image: "flink:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "1", memory: "1Gi" } },
  taskManager: { resources: { cpu: "1", memory: "1Gi" }, taskSlots: 1 },
  state: "RUNNING",
};

/** SPEC_INPUT with `over` on top, parsed as the workspace agent receives it. */
export function specOf(over: Partial<DeploymentSpecInput> = {}): DeploymentSpec {
  return deploymentSpec.parse({ ...SPEC_INPUT, ...over });
}
