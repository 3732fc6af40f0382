// What the leader's control-plane connection (connection.ts) is built from: the configuration and
// the long-lived parts every replica has (Kubernetes client, caches, Event recorder, metrics,
// logger, the control-plane endpoint), and how to read the agent's identity for status.
import type { Endpoint } from "@meridian/shared/controlplane/http";
import type { KubeClient } from "@meridian/shared/kube/client";
import type { EventRecorder } from "@meridian/shared/kube/events";
import type { Logger } from "@meridian/shared/log";
import type { OwnedCaches } from "./caches.ts";
import type { AgentConfig } from "./config.ts";
import type { AgentMetrics } from "./metrics.ts";

/** Who this agent is, for its status document (outbound.ts). */
export interface AgentInfo {
  id: string;
  version: string;
  identity: string;
  leader: string;
  kubernetesVersion: string;
  startedAt: string;
}

export interface ConnectionOptions {
  config: AgentConfig;
  kube: KubeClient;
  caches: OwnedCaches;
  recorder: EventRecorder;
  metrics: AgentMetrics;
  logger: Logger;
  endpoint: Endpoint;
  /** Identity, leader and Kubernetes version, read at each status build. */
  agentInfo(): AgentInfo;
  now?: () => number;
}
