// A minimal valid Flink deployment spec for tests (the shared one, DEPLOYMENT_SPEC_INPUT): override what
// a test is about.
import { DEPLOYMENT_SPEC_INPUT } from "@meridian/shared/protocol/deployment-spec.testutil";
import {
  type DeploymentSpec,
  type DeploymentSpecInput,
  deploymentSpec,
} from "@meridian/shared/protocol/index";

export const SPEC_INPUT: DeploymentSpecInput = DEPLOYMENT_SPEC_INPUT;

/** SPEC_INPUT with `over` on top, parsed as the workspace agent receives it. */
export function specOf(over: Partial<DeploymentSpecInput> = {}): DeploymentSpec {
  return deploymentSpec.parse({ ...SPEC_INPUT, ...over });
}
