// The inbound direction: the workspace stream's validated events become desired state. A snapshot
// replaces what is desired (what it does not list becomes orphaned, never deleted); deltas upsert or
// delete one deployment. Each is handed off as both agents do (shared/src/controller/desired-change.ts):
// the desired store returns a DesiredChange, its refusals go to the stream, its keys to the
// controller. Refused events change nothing and are counted for status: those the stream refused
// (invalid, and invalid snapshot items), and those the desired store refuses (a generation older
// than the one held), which are counted through stream.refuse().
import {
  type DesiredChange,
  enqueueChange,
  unverifiedChange,
} from "@meridian/shared/controller/desired-change";
import type { MarkGate, ReplayMark } from "@meridian/shared/controlplane/replay-mark";
import type { StreamClient } from "@meridian/shared/controlplane/stream";
import type { SignatureRefusal } from "@meridian/shared/controlplane/verify";
import { F, type Logger } from "@meridian/shared/log";
import type { WorkspaceEvent, workspaceEvents } from "@meridian/shared/protocol/index";
import type { DesiredStore } from "./flink/desired.ts";
import type { WorkspaceAgentMetrics } from "./metrics.ts";

export interface InboundOptions {
  workspaceId: string;
  stream: StreamClient<typeof workspaceEvents>;
  desired: DesiredStore;
  /** Reconciles the deployments a change names. */
  controller: { enqueue(name: string): void };
  /** Runs each step in order, after storing the newest accepted event when a replay could undo it. */
  gate: MarkGate;
  logger: Logger;
  metrics: WorkspaceAgentMetrics;
  /** Something reported upward changed (lastEventId, rejectedEvents). */
  onStatusChange: () => void;
  /** The stream refused an event or snapshot item for its signature (a Warning Event). */
  onUnverified: (refusal: SignatureRefusal) => void;
}

export function connectInbound(o: InboundOptions): void {
  const { stream, desired, logger, metrics } = o;
  const handOff = (type: string, id: string | undefined, change: DesiredChange) => {
    for (const refusal of change.refusals) stream.refuse(type, id, refusal);
    // A control plane that starts over (decisions.md 42) is said loudly, once per deployment.
    for (const line of change.epochChanges ?? []) logger.warn({ [F.reason]: "EpochChanged" }, line);
    enqueueChange(o.controller, change);
  };
  stream.on("connected", () => metrics.streamConnected.set(1));
  stream.on("disconnected", () => metrics.streamConnected.set(0));
  const onSnapshot = (event: Extract<WorkspaceEvent, { type: "snapshot" }>) => {
    if (event.data.workspaceId !== o.workspaceId) {
      const reason = `snapshot is for workspace ${JSON.stringify(event.data.workspaceId.slice(0, 100))}, not ${o.workspaceId}; ignored`;
      // Refused through the stream: logged once (the "rejected" handler below) and counted in
      // rejectedEvents, so the control plane sees the refusal too.
      stream.refuse(event.type, event.id, reason);
      return;
    }
    logger.info({ [F.eventId]: event.id, deployments: event.data.deployments.length }, "snapshot received");
    handOff(event.type, event.id, desired.snapshot(event.data));
    o.onStatusChange();
  };
  const onDelta = (event: Exclude<WorkspaceEvent, { type: "snapshot" }>, creationMark?: ReplayMark) => {
    const log = logger.child({ [F.eventId]: event.id, [F.eventType]: event.type });
    if (event.type === "deployment.upsert") {
      const d = event.data.deployment;
      log.info({ [F.deployment]: d.name, generation: d.generation }, "deployment upsert");
      handOff(event.type, event.id, desired.upsert(d, creationMark));
    } else if (event.type === "deployment.delete") {
      const { name, generation, epoch } = event.data;
      log.info({ [F.deployment]: name, generation }, "deployment delete");
      handOff(event.type, event.id, desired.delete(name, generation, epoch));
    }
    o.onStatusChange();
  };
  // A snapshot and a delete are what a replayed older event could undo (orphan, re-create): the
  // newest accepted event is stored before they are applied (replay-mark.ts). A new deployment is too,
  // but its ConfigMap is created carrying the creating event's mark (the stream's newest now, as this
  // event was just accepted), which the store reads back with its own: no write before it (decision 50).
  stream.on("snapshot", ({ event }) => o.gate.submit(true, () => onSnapshot(event)));
  stream.on("event", ({ event }) => {
    const creates =
      event.type === "deployment.upsert" && desired.get(event.data.deployment.name).kind !== "spec";
    const mark = creates ? stream.acceptedMark : undefined;
    o.gate.submit(event.type === "deployment.delete", () => onDelta(event, mark));
  });
  stream.on("rejected", ({ type, id, error, signature }) =>
    o.gate.submit(false, () => {
      metrics.rejectedEvents.inc();
      logger.warn({ [F.eventType]: type, [F.eventId]: id, [F.reason]: error }, "stream event refused");
      if (signature) {
        const change = unverifiedChange(desired, type, signature);
        if (change) enqueueChange(o.controller, change);
        o.onUnverified(signature);
      }
      o.onStatusChange();
    }),
  );
}
