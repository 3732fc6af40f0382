// The workspace agent's connection to the control plane, cut by direction as in
// shared/src/controlplane and the agent: one HTTP dispatcher (CA file, proxy) and one token source
// for both directions; inbound (inbound.ts), the workspace stream whose events become desired state
// and are handed to the controller; outbound (outbound.ts), the status reporter with its heartbeats.
// The controller does not depend on it: without a control plane the deployments keep running and
// are repaired from their persisted state.
import { createDispatcher, type Endpoint } from "@meridian/shared/controlplane/http";
import { MarkGate } from "@meridian/shared/controlplane/replay-mark";
import { type StreamClient, workspaceStream } from "@meridian/shared/controlplane/stream";
import { F } from "@meridian/shared/log";
import type { workspaceEvents } from "@meridian/shared/protocol/index";
import { connectInbound } from "./inbound.ts";
import type { ConnectionOptions } from "./options.ts";
import { connectOutbound, type WorkspaceStatus } from "./outbound.ts";

export class ControlPlaneConnection {
  /** Where the controller reports each deployment's status. */
  readonly status: WorkspaceStatus;
  readonly #dispatcher: ReturnType<typeof createDispatcher>;
  readonly #stream: StreamClient<typeof workspaceEvents>;
  readonly #stopOutbound: () => Promise<void>;
  readonly #stopped = new AbortController();
  /** Stores the newest accepted event before what a replay could undo is applied (decision 46). */
  readonly gate: MarkGate;

  constructor(o: ConnectionOptions) {
    const { config, logger } = o;
    this.#dispatcher = createDispatcher({
      ...(config.caFile ? { caFile: config.caFile } : {}),
      proxy: config.proxy,
    });
    const endpoint: Endpoint = {
      baseUrl: config.controlPlaneUrl,
      dispatcher: this.#dispatcher,
      tokens: o.tokens,
    };
    this.#stream = workspaceStream(endpoint, config.workspaceId, {
      logger: logger.child({ [F.module]: "stream" }),
      signingKeys: config.signingPublicKeys,
      replayMarks: o.replayMarks,
    });
    const stream = this.#stream;
    this.gate = new MarkGate({
      store: o.replayMarks,
      newest: () => stream.acceptedMark,
      stored: () => stream.loadedMark,
      resumeAfter: (at, reason) => stream.resumeAfter(at, reason),
      signal: this.#stopped.signal,
      logger,
    });
    const outbound = connectOutbound(o, endpoint, this.#stream);
    this.status = outbound.status;
    this.#stopOutbound = outbound.stop;
    // The stream got through: a status waiting out a back-off goes now (reporter.ts).
    this.#stream.on("connected", () => outbound.linkUp());
    connectInbound({
      workspaceId: config.workspaceId,
      stream: this.#stream,
      desired: o.desired,
      controller: o.controller,
      gate: this.gate,
      logger,
      metrics: o.metrics,
      onStatusChange: () => this.status.changed(),
      onUnverified: (refusal) => o.onUnverified?.(refusal),
    });
  }

  /** A new credential is in the Secret: a stream refused with 401 redials now. */
  credentialChanged(): void {
    this.#stream.credentialChanged();
  }

  /** Opens the stream: only once the controller runs (the watch caches have listed). */
  start(): void {
    this.#stream.start();
  }

  /** Sends the last status, then closes the stream and the dispatcher. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#stopOutbound().catch(() => {});
    await this.#stream.stop().catch(() => {});
    await this.#dispatcher.close();
  }
}
