// The control-plane client shared by the agent and the workspace agent:
// inbound (stream.ts), outbound (reporter.ts), credentials, and the HTTP plumbing under them.
export { Backoff, type BackoffOptions, longBackoffMs } from "./backoff.ts";
export {
  CredentialTokenSource,
  FileTokenSource,
  refreshDueAt,
  refreshWorkspaceCredential,
  requestWorkspaceCredential,
  StaticTokenSource,
  type TokenSource,
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
export {
  agentStream,
  type DeltaOf,
  type EventMap,
  type SnapshotOf,
  StreamClient,
  type StreamClientEvents,
  type StreamClientOptions,
  workspaceStream,
} from "./stream.ts";
export { logStreamEvents } from "./stream-log.ts";
