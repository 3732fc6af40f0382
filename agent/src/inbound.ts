// The inbound direction: the agent stream's validated events become desired state. Each event is
// applied to the DesiredState (desired.ts), which returns a DesiredChange (the one hand-off shape
// of both agents, shared/src/controller/desired-change.ts): the refusals it decided go back to the
// stream (rejectedEvents), and the change goes to the process, which marks status and enqueues the
// keys in its controller. Events the stream refused itself change nothing and are only counted.
import { type DesiredChange, unverifiedChange } from "@meridian/shared/controller/desired-change";
import type { MarkGate } from "@meridian/shared/controlplane/replay-mark";
import type { StreamClient } from "@meridian/shared/controlplane/stream";
import type { SignatureRefusal } from "@meridian/shared/controlplane/verify";
import { NAMESPACES } from "@meridian/shared/kube/resources";
import type { agentEvents } from "@meridian/shared/protocol/index";
import type { OwnedCaches } from "./caches.ts";
import type { ClusterMemory, DesiredState } from "./desired.ts";
import type { AgentMetrics } from "./metrics.ts";
import { namespaceName, recordedHeld } from "./workspace/objects.ts";

export interface InboundOptions {
  stream: StreamClient<typeof agentEvents>;
  desired: DesiredState;
  cluster: ClusterMemory;
  metrics: AgentMetrics;
  /** Runs each step in order, after storing the newest accepted event when a replay could undo it. */
  gate: MarkGate;
  /** Events arriving after this aborts (leadership lost) are not applied. */
  signal: AbortSignal;
  /** What an event changed, handed to the process. */
  onChange(change: DesiredChange): void;
  /** The stream refused an event (rejectedEvents changed): its type, why, and a signature's reason. */
  onRejected(refused: { type: string; error: string; signature?: SignatureRefusal }): void;
  /** The stream refused an event or snapshot item for its signature (a Warning Event). */
  onUnverified(refusal: SignatureRefusal): void;
}

export function connectInbound(o: InboundOptions): void {
  const { stream, desired, metrics } = o;
  const apply = (event: Parameters<DesiredState["apply"]>[0]) => {
    if (o.signal.aborted) return;
    metrics.streamEvents.inc({ type: event.type });
    const change = desired.apply(event, o.cluster);
    for (const reason of change.refusals) stream.refuse(event.type, event.id, reason);
    o.onChange(change);
  };
  // A snapshot, a delete and a new workspace are what a replayed older event could undo (orphan,
  // re-create): the newest accepted event is stored before they are applied (replay-mark.ts).
  stream.on("snapshot", ({ event }) => o.gate.submit(true, () => apply(event)));
  stream.on("event", ({ event }) => {
    const creates = event.type === "workspace.upsert" && desired.get(event.data.workspace.id) === undefined;
    o.gate.submit(event.type === "workspace.delete" || creates, () => apply(event));
  });
  stream.on("rejected", ({ type, error, signature }) =>
    o.gate.submit(false, () => {
      metrics.streamEvents.inc({ type: "rejected" });
      if (signature && !o.signal.aborted) {
        const change = unverifiedChange(desired, type, signature);
        if (change) o.onChange(change);
        o.onUnverified(signature);
      }
      o.onRejected({ type, error, ...(signature ? { signature } : {}) });
    }),
  );
}

/** What the cluster remembers across restarts: namespaces, and the generation recorded on each. */
export function clusterMemory(caches: OwnedCaches, namespacePrefix: string): ClusterMemory {
  return {
    ids: () => caches.workspaceIdsInCluster(),
    generation: (id) => recordedHeld(caches.get(NAMESPACES, undefined, namespaceName(namespacePrefix, id))),
  };
}
