// Faults the reference control plane injects on request (POST /admin/faults), so that tests can
// watch clients survive a misbehaving server. Documented in docs/control-plane.md.
import { z } from "zod";

/** Limits a stream fault to the agent or workspace streams, optionally of one agent or workspace id. */
const streamFilter = {
  stream: z.enum(["agent", "workspace"]).optional(),
  target: z.string().min(1).optional(),
};

export const fault = z.discriminatedUnion("type", [
  /** Destroy every matching open stream socket now. */
  z.object({ type: z.literal("drop-streams"), ...streamFilter }),
  /** The next event on a matching stream: write half of its bytes, then destroy the socket. */
  z.object({ type: z.literal("cut-next-event"), ...streamFilter }),
  /** The next `count` non-admin requests answer `status` (default 503) with an error body. */
  z.object({
    type: z.literal("fail-requests"),
    status: z.number().int().min(400).max(599).default(503),
    count: z.number().int().min(1).max(1_000_000),
  }),
  /** Send nothing (events queue up, no keep-alives) on matching streams for `ms`, without closing. */
  z.object({ type: z.literal("stall-streams"), ms: z.number().int().min(1).max(3_600_000), ...streamFilter }),
  /** Forget the change log: every event id handed out so far can no longer be resumed. */
  z.object({ type: z.literal("truncate-log") }),
  /** Send a raw, possibly malformed event with the next sequence id to the matching open streams. */
  z.object({
    type: z.literal("inject-event"),
    stream: z.enum(["agent", "workspace"]),
    target: z.string().min(1),
    event: z
      .string()
      .min(1)
      .regex(/^[^\r\n]*$/, "must be one line"),
    data: z.string(),
  }),
  /** Cancel every pending fault (failing requests, a pending cut, a stall in progress). */
  z.object({ type: z.literal("clear") }),
]);
export type Fault = z.input<typeof fault>;
export type ParsedFault = z.infer<typeof fault>;

/** Which streams a stream fault applies to. */
export interface StreamFilter {
  stream?: "agent" | "workspace" | undefined;
  target?: string | undefined;
}

export function matchesFilter(filter: StreamFilter, stream: string, target: string): boolean {
  return (
    (filter.stream === undefined || filter.stream === stream) &&
    (filter.target === undefined || filter.target === target)
  );
}

/** The request-level fault: how many more non-admin requests fail, and with which status. */
export class RequestFaults {
  #remaining = 0;
  #status = 503;

  failNext(count: number, status: number): void {
    this.#remaining = count;
    this.#status = status;
  }

  clear(): void {
    this.#remaining = 0;
  }

  /** The status the current request must fail with, or undefined to serve it normally. */
  take(): number | undefined {
    if (this.#remaining <= 0) return undefined;
    this.#remaining--;
    return this.#status;
  }
}
