// The shape of the hostile-input catalogue: one entry per input a hostile control plane can send,
// with its class, the bytes (or HTTP behaviour) it sends, and what the agent must do about it. The
// entries are data; the runners (stream-runner.ts, http-runner.ts) send them to the real agents and
// check the expectation, and that nothing else in the cluster changed.
import type { Script, Step } from "../server.ts";

export type InputClass = "framing" | "ids" | "json" | "workspace" | "deployment" | "http";

/** What a stream input may build its bytes from. */
export interface StreamContext {
  /** A fresh event id after the last one the agent holds; consecutive calls give consecutive ids. */
  next(): string;
  /** The last event id the agent holds (its status's lastEventId). */
  readonly last: string;
  /**
   * The items a snapshot must list so that nothing already applied is taken for absent: the good
   * workspaces of the agent stream, the good deployments of a workspace stream.
   */
  readonly listed: readonly unknown[];
  /** The workspace of a workspace stream (the agent stream: undefined). */
  readonly workspaceId: string | undefined;
}

/** What the agent must do with one stream input. */
export type StreamExpectation =
  /**
   * Refused by the stream or the desired state: `count` refusals (default 1), counted in the status's
   * rejectedEvents, the last with this reason, and logged. `item`: the workspace id or deployment
   * name of a refused snapshot item, which then carries the condition SpecRejected upward.
   */
  | { kind: "refused"; reason: RegExp; count?: number; item?: string }
  /**
   * Not an event at all under the WHATWG framing rules (a comment, an unknown field, an event
   * without data): nothing is delivered, nothing refused, the stream stays open. `why` says so.
   */
  | { kind: "ignored"; why: string }
  /** A valid workspace the local policy refuses: phase Refused, condition PolicyViolation, a log line. */
  | { kind: "policy"; workspace: string; reason: RegExp }
  /** A workspace whose objects' names are taken by something not its own: condition OwnershipConflict. */
  | { kind: "conflict"; workspace: string; reason: RegExp }
  /** A delete of a workspace whose namespace is not Meridian's: logged, the namespace left alone. */
  | { kind: "left-alone"; workspace: string; reason: RegExp }
  /** A deployment the workspace agent's local policy refuses: phase Refused, SpecAligned SpecRefused. */
  | { kind: "spec-refused"; deployment: string; reason: RegExp }
  /** Valid and harmless by the protocol's rules (e.g. a snapshot restarting the id sequence). */
  | { kind: "accepted"; why: string };

export interface StreamInput {
  name: string;
  class: Exclude<InputClass, "http">;
  /** The stream it is sent on. */
  stream: "agent" | "workspace";
  /** One line: what is hostile about it. */
  what: string;
  bytes(ctx: StreamContext): Step[];
  expect: StreamExpectation;
  /** The stream is expected to end and be redialled (a framing error the parser cannot get past). */
  redial?: boolean;
}

/** Which control-plane request an HTTP input answers. */
export type HttpRoute = "stream" | "status" | "credentials";

export interface HttpExpectation {
  /** The agent's log line naming the failure: its message and reason (none: nothing to report). */
  log?: { msg: RegExp; reason: RegExp };
  /** Requests to the route within `windowMs` of the first: at least `min` (it keeps trying), at most `max` (no tight loop). */
  windowMs: number;
  min: number;
  max: number;
}

export interface HttpInput {
  name: string;
  class: "http";
  route: HttpRoute;
  what: string;
  /** The answers to the route's requests in order, the last repeating. */
  answers(): Script[];
  expect: HttpExpectation;
}

export type HostileInput = StreamInput | HttpInput;
