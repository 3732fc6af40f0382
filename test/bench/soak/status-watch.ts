// The agent's status as the control plane received it, polled once a second during a soak:
//  - heartbeat: the longest time between two status documents received (an upper bound: a poll
//    that misses a document sees a longer gap, never a shorter one), or since the last one while
//    none arrives (a status that stopped for good is a gap too);
//  - change → status: for every churn operation, the time from the control plane's answer to the
//    first received status that shows it (an update or create at its generation or later, a delete
//    gone or Deleted/Deleting). Resolution: the poll interval.
import { percentile } from "../lib/stats.ts";
import type { ChurnOp } from "./churn.ts";
import type { ReportedItems } from "./compare.ts";

/**
 * A heartbeat is scheduled when the previous POST has finished, so two documents arrive up to the
 * heartbeat plus one POST (and a late timer on a busy machine) apart.
 */
export const HEARTBEAT_SLACK_MS = 2000;

export interface ReceivedStatus {
  /** When the control plane received the latest status (ISO), null before the first. */
  receivedAt: string | null;
  items: ReportedItems;
}

export interface StatusFigures {
  documents: number;
  maxGapMs: number;
  /** When the longest gap ended (ISO). */
  maxGapEndedAt: string;
  /** Latency of each churn operation to status, ms, in the order they showed. */
  latenciesMs: number[];
  /** Operations not (yet) shown in any status received. */
  pending: number;
}

export class StatusWatch {
  readonly #read: () => Promise<ReceivedStatus>;
  readonly #pending = new Map<ChurnOp, true>();
  readonly #latencies: number[] = [];
  #last: string | null = null;
  #documents = 0;
  #maxGap = 0;
  #maxGapEndedAt = "";
  #gapsFrom = 0;
  #latest: ReceivedStatus | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(read: () => Promise<ReceivedStatus>) {
    this.#read = read;
  }

  start(everyMs = 1000): void {
    this.#timer = setInterval(() => void this.poll(), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Gaps that end before `at` (ms since the epoch) are not counted (e.g. the start-up). */
  countGapsFrom(at: number): void {
    this.#gapsFrom = at;
  }

  expect(op: ChurnOp): void {
    this.#pending.set(op, true);
  }

  /** The latest status seen. */
  get latest(): ReceivedStatus | undefined {
    return this.#latest;
  }

  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      // Nothing newer than what the answer shows was received before this: an open gap's lower bound.
      const asked = Date.now();
      const s = await this.#read();
      this.#latest = s;
      if (s.receivedAt === null) return;
      if (s.receivedAt === this.#last) {
        // Nothing new: the gap still open counts as well, so a status that stopped arriving for
        // good (every POST refused) is a long gap, not a gap that never ends and is never measured.
        this.#gap(asked, new Date(asked).toISOString());
        return;
      }
      const received = Date.parse(s.receivedAt);
      this.#gap(received, s.receivedAt);
      this.#last = s.receivedAt;
      this.#documents++;
      for (const op of this.#pending.keys())
        if (shows(s.items, op)) {
          this.#pending.delete(op);
          this.#latencies.push(Math.max(0, received - op.at));
        }
    } catch {
      // The control plane answers again at the next poll; a missed poll only widens a gap.
    } finally {
      this.#polling = false;
    }
  }

  /** The gap from the last document received to `endMs` (`endedAt`), if it is the longest yet. */
  #gap(endMs: number, endedAt: string): void {
    if (this.#last === null || endMs < this.#gapsFrom) return;
    const gap = endMs - Date.parse(this.#last);
    if (gap > this.#maxGap) {
      this.#maxGap = gap;
      this.#maxGapEndedAt = endedAt;
    }
  }

  figures(): StatusFigures {
    return {
      documents: this.#documents,
      maxGapMs: this.#maxGap,
      maxGapEndedAt: this.#maxGapEndedAt,
      latenciesMs: [...this.#latencies],
      pending: this.#pending.size,
    };
  }
}

function shows(items: ReportedItems, op: ChurnOp): boolean {
  const r = items.get(op.id);
  if (op.kind === "delete") return !r || r.phase === "Deleted" || r.phase === "Deleting";
  return r !== undefined && r.observedGeneration >= (op.generation ?? 0);
}

export function formatStatus(f: StatusFigures, heartbeatMs: number): string {
  const l = f.latenciesMs;
  const over = l.filter((ms) => ms > heartbeatMs).length;
  const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "?");
  return (
    `${f.documents} status documents, longest gap ${s(f.maxGapMs)} (heartbeat ${s(heartbeatMs)}); ` +
    `change → status p50 ${s(percentile(l, 50))}, p95 ${s(percentile(l, 95))}, max ${s(Math.max(...l))}, ` +
    `${over} of ${l.length} over the heartbeat${f.pending ? `, ${f.pending} never shown` : ""}`
  );
}
