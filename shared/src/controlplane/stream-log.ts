// Log lines for a stream client, written by subscribing to its typed events (the client itself
// never logs). One line per meaningful step; a rejected event is logged exactly once, at warn.
import { F, type Logger } from "@meridian/shared/log";
import type { EventMap, StreamEventSource } from "./stream-events.ts";

export function logStreamEvents<M extends EventMap>(client: StreamEventSource<M>, logger: Logger): void {
  client.on("connected", ({ connectionId, resumeFrom }) =>
    logger.info(
      { [F.connectionId]: connectionId, [F.eventId]: resumeFrom },
      resumeFrom === undefined ? "stream connected, expecting a snapshot" : "stream connected, resuming",
    ),
  );
  client.on("snapshot", ({ connectionId, event }) =>
    logger.info({ [F.connectionId]: connectionId, [F.eventId]: event.id }, "snapshot received"),
  );
  client.on("rejected", ({ connectionId, type, id, error }) =>
    logger.warn(
      {
        [F.connectionId]: connectionId,
        [F.eventType]: type.slice(0, 100),
        [F.eventId]: id,
        [F.reason]: error,
      },
      "event rejected: it changed nothing (a snapshot item: the rest of the snapshot applies)",
    ),
  );
  client.on("disconnected", ({ connectionId, kind, reason, retryInMs }) =>
    logger.warn(
      { [F.connectionId]: connectionId, [F.outcome]: kind, [F.reason]: reason, [F.delayMs]: retryInMs },
      "stream disconnected, redialling",
    ),
  );
  client.on("fatal", ({ connectionId, reason, retryInMs }) =>
    logger.error(
      { [F.connectionId]: connectionId, [F.reason]: reason, [F.delayMs]: retryInMs },
      "the control plane refuses this stream and will until something changes; retrying slowly",
    ),
  );
}
