// What a stream client tells its subscribers: the event map type and the typed events it emits.
// Its own module so that subscribers (stream-log.ts, the agents' inbound hand-off) depend on the
// events, not on the client that emits them.
import type { EventEmitter } from "node:events";
import type { EventOf } from "@meridian/shared/protocol/index";
import type { z } from "zod";
import type { FailureKind } from "./errors.ts";
import type { SignatureRefusal } from "./verify.ts";

export type EventMap = Record<string, z.ZodType>;
export type SnapshotOf<M extends EventMap> = Extract<EventOf<M>, { type: "snapshot" }>;
export type DeltaOf<M extends EventMap> = Exclude<EventOf<M>, { type: "snapshot" }>;

export interface StreamClientEvents<M extends EventMap> {
  /** The server accepted the stream. `resumeFrom` is the Last-Event-ID we sent (undefined: fresh). */
  connected: [{ connectionId: string; resumeFrom: string | undefined }];
  /** Full desired state; everything not in it is no longer desired (principle 2). */
  snapshot: [{ connectionId: string; event: SnapshotOf<M> }];
  /** One validated delta. */
  event: [{ connectionId: string; event: DeltaOf<M> }];
  /**
   * A message that failed validation (nothing was applied), one refused item of a snapshot (the rest
   * of it was applied), or an event a subscriber refused through `refuse()`.
   */
  rejected: [
    {
      connectionId: string;
      type: string;
      id: string | undefined;
      error: string;
      /** Set when the event (or one snapshot item) failed signature verification: the reason and what it names. */
      signature?: SignatureRefusal;
    },
  ];
  disconnected: [
    { connectionId: string; cause: Error; kind: FailureKind; reason: string; retryInMs: number },
  ];
  /** 403 or protocol version mismatch: retried only every `fatalBackoffMs`; emitted each time. */
  fatal: [{ connectionId: string; reason: string; retryInMs: number }];
}

/** Anything that emits a stream client's events (the StreamClient, or a test double). */
export type StreamEventSource<M extends EventMap> = EventEmitter<StreamClientEvents<M>>;
