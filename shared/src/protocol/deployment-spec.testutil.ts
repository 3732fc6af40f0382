// A minimal valid Flink deployment spec as the control plane sends it, for tests: override only what a
// test is about.
import type { DeploymentSpecInput } from "./deployment.ts";

export const DEPLOYMENT_SPEC_INPUT: DeploymentSpecInput = {
  name: "orders",
  generation: 1,
  image: "flink:2.3.0",
  job: { jarURI: "local:///opt/flink/usrlib/job.jar", entryClass: "org.example.Job" },
  parallelism: 1,
  jobManager: { resources: { cpu: "1", memory: "1Gi" } },
  taskManager: { resources: { cpu: "1", memory: "1Gi" }, taskSlots: 1 },
  state: "RUNNING",
};

/** DEPLOYMENT_SPEC_INPUT with `over` on top. */
export function deploymentSpecInput(over: Partial<DeploymentSpecInput> = {}): DeploymentSpecInput {
  return { ...DEPLOYMENT_SPEC_INPUT, ...over };
}
