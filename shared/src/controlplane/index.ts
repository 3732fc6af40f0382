// The control-plane client shared by the agent and the workspace agent:
// inbound (stream.ts), outbound (reporter.ts), credentials, and the HTTP plumbing under them.
export {
  CredentialTokenSource,
  FileTokenSource,
  refreshDueAt,
  refreshWorkspaceCredential,
  requestWorkspaceCredential,
  StaticTokenSource,
} from "./credentials.ts";
export {
  type Classification,
  classify,
  describeNetworkError,
  errorFromResponse,
  type FailureKind,
  ProtocolError,
  redirectError,
} from "./errors.ts";
export {
  createDispatcher,
  type DispatcherOptions,
  type Endpoint,
  endpointUrl,
  type ProxySettings,
  protocolHeaders,
  proxySettingsFromEnv,
  type RequestJsonOptions,
  readLimited,
  requestJson,
} from "./http.ts";
export {
  agentStatusReporter,
  StatusReporter,
  type StatusReporterEvents,
  type StatusReporterOptions,
  workspaceStatusReporter,
} from "./reporter.ts";
export { agentStream, StreamClient, type StreamClientOptions, workspaceStream } from "./stream.ts";
export type {
  DeltaOf,
  EventMap,
  SnapshotOf,
  StreamClientEvents,
  StreamEventSource,
} from "./stream-events.ts";
export { logStreamEvents } from "./stream-log.ts";
export type { TokenSource } from "./token-source.ts";
