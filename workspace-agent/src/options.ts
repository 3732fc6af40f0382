// What a workspace agent is started with besides its settings (WorkspaceAgentOverrides: tests and
// embedding), and what its control-plane connection (connection.ts) is built from: the settings,
// the token source, where inbound hands desired state, and who the agent is for its status.
import type { ReplayMarkStore } from "@meridian/shared/controlplane/replay-mark";
import type { TokenSource } from "@meridian/shared/controlplane/token-source";
import type { SignatureRefusal } from "@meridian/shared/controlplane/verify";
import type { Logger } from "@meridian/shared/log";
import type { WorkspaceAgentConfig } from "./config.ts";
import type { DesiredStore } from "./flink/desired.ts";
import type { RestUrlBuilder } from "./flink/monitor.ts";
import type { WorkspaceAgentMetrics } from "./metrics.ts";

export interface WorkspaceAgentOverrides {
  logger?: Logger;
  /** How to reach a JobManager's REST API; default `http://<service>.<namespace>.svc:8081`. */
  restUrl?: RestUrlBuilder;
  /** Instead of the credential Secret (tests of other parts). */
  tokens?: TokenSource;
  /** Node's process metrics (CPU, memory, GC); default true. Off when several agents share a process. */
  processMetrics?: boolean;
  /** Full resync of every deployment this often; default 60 s. */
  resyncMs?: number;
  /**
   * How long one second of a spec's `savepoints` interval and maximum age lasts (default 1000): tests
   * shorten it to see periodic savepoints and retention without weakening the spec's 60 s minimum.
   */
  savepointSecondMs?: number;
}

/** Full resync of every deployment, unless overridden. */
export const DEFAULT_RESYNC_MS = 60_000;

/** Who this agent is, for its status document (outbound.ts). */
export interface WorkspaceAgentInfo {
  version: string;
  /** The pod's name. */
  identity: string;
  startedAt: Date;
}

export interface ConnectionOptions {
  config: WorkspaceAgentConfig;
  /** Bearer tokens for both directions: the credential Secret's, or an override. */
  tokens: TokenSource;
  /** Where inbound puts what the control plane wants. */
  desired: DesiredStore;
  /** Reconciles the deployments an inbound change names. */
  controller: { enqueue(name: string): void };
  metrics: WorkspaceAgentMetrics;
  logger: Logger;
  info: WorkspaceAgentInfo;
  /** The stream refused an event or snapshot item for its signature (a Warning Event). */
  onUnverified?: (refusal: SignatureRefusal) => void;
  /** Where the newest accepted event survives a restart (signed streams; docs/decisions.md 46). */
  replayMarks?: ReplayMarkStore;
}
