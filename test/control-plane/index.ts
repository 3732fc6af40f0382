// The reference control plane's public surface for tests, the benchmark and the demo.
export {
  AdminClient,
  AdminError,
  type AgentRecord,
  type DeleteResult,
  type DeploymentBody,
  type PutDeploymentResult,
  type PutWorkspaceResult,
  type StreamsState,
  type WaitForStreamsFilter,
  type WorkspaceBody,
  type WorkspaceRecord,
} from "./admin-client.ts";
export type { Fault, StreamFilter } from "./faults.ts";
export { type ControlPlane, type ControlPlaneOptions, startControlPlane } from "./server.ts";
export type { StreamInfo } from "./sse-hub.ts";
