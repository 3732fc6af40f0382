// The inbound direction: the workspace stream's validated events become desired state. A snapshot
// replaces what is desired (what it does not list becomes orphaned, never deleted); deltas upsert or
// delete one deployment. Refused events change nothing and are counted for status: those the stream
// refused (invalid, and invalid snapshot items), and those the desired store refuses (a generation
// older than the one held), which are counted through stream.refuse().
import type { StreamClient } from "@meridian/shared/controlplane/stream";
import { F, type Logger } from "@meridian/shared/log";
import type { workspaceEvents } from "@meridian/shared/protocol/index";
import type { DesiredStore } from "./flink/desired.ts";
import type { WorkspaceAgentMetrics } from "./metrics.ts";

export interface InboundOptions {
  workspaceId: string;
  stream: StreamClient<typeof workspaceEvents>;
  desired: DesiredStore;
  logger: Logger;
  metrics: WorkspaceAgentMetrics;
  /** Something reported upward changed (lastEventId, rejectedEvents). */
  onStatusChange: () => void;
}

export function connectInbound(o: InboundOptions): void {
  const { stream, desired, logger, metrics } = o;
  stream.on("connected", () => metrics.streamConnected.set(1));
  stream.on("disconnected", () => metrics.streamConnected.set(0));
  stream.on("snapshot", ({ event }) => {
    if (event.data.workspaceId !== o.workspaceId) {
      logger.error(
        { [F.eventId]: event.id, [F.workspace]: o.workspaceId },
        `snapshot is for workspace ${event.data.workspaceId}, not ${o.workspaceId}; ignored`,
      );
      return;
    }
    logger.info({ [F.eventId]: event.id, deployments: event.data.deployments.length }, "snapshot received");
    for (const refusal of desired.snapshot(event.data)) stream.refuse(event.type, event.id, refusal);
    o.onStatusChange();
  });
  stream.on("event", ({ event }) => {
    const log = logger.child({ [F.eventId]: event.id, [F.eventType]: event.type });
    if (event.type === "deployment.upsert") {
      const d = event.data.deployment;
      log.info({ [F.deployment]: d.name, generation: d.generation }, "deployment upsert");
      const refusal = desired.upsert(d);
      if (refusal) stream.refuse(event.type, event.id, refusal);
    } else if (event.type === "deployment.delete") {
      const { name, generation } = event.data;
      log.info({ [F.deployment]: name, generation }, "deployment delete");
      const refusal = desired.delete(name, generation);
      if (refusal) stream.refuse(event.type, event.id, refusal);
    }
    o.onStatusChange();
  });
  stream.on("rejected", ({ type, id, error }) => {
    metrics.rejectedEvents.inc();
    logger.warn({ [F.eventType]: type, [F.eventId]: id, [F.reason]: error }, "stream event refused");
    o.onStatusChange();
  });
}
