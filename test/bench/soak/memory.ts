// Memory of an agent process over a soak: resident memory from /proc and V8's used heap from its
// /metrics, sampled every few seconds; from the end of the warm-up to the end of the churn, a
// least-squares slope in MB per minute (flat: no leak; what is kept per change climbs steadily under
// steady churn). The idle time after the churn is left out: idle-time GC would bend the slope down.
import { loadavg } from "node:os";
import { leastSquaresSlope, mb, percentile, rssMb } from "../lib/stats.ts";

export interface MemorySample {
  /** ms since the epoch */
  at: number;
  rssMb: number;
  heapMb: number;
  /** The machine's one-minute load average then: what the figures were measured under. */
  load: number;
}

export interface MemorySummary {
  samples: number;
  /** Over the samples from the end of the warm-up to the end of the churn. */
  rssSlopeMbPerMin: number;
  heapSlopeMbPerMin: number;
  rssMedianMb: number;
  rssMaxMb: number;
  heapMedianMb: number;
  loadMedian: number;
  loadMax: number;
  /** Minutes the slope was fitted over. */
  minutes: number;
}

export class MemorySampler {
  readonly samples: MemorySample[] = [];
  readonly #timer: NodeJS.Timeout;

  /** `heapBytes` reads the process's used heap (its /metrics); NaN when unknown. */
  constructor(pid: number, everyMs: number, heapBytes: () => Promise<number>) {
    const sample = async () => {
      const at = Date.now();
      const rss = rssMb(pid);
      const heap = await heapBytes().catch(() => Number.NaN);
      if (Number.isFinite(rss)) this.samples.push({ at, rssMb: rss, heapMb: mb(heap), load: loadavg()[0]! });
    };
    void sample();
    this.#timer = setInterval(() => void sample(), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Slopes and levels over the samples taken from `from` to `to` (ms since the epoch). */
  summary(from: number, to = Number.POSITIVE_INFINITY): MemorySummary {
    const after = this.samples.filter((s) => s.at >= from && s.at <= to);
    const points = (f: (s: MemorySample) => number) =>
      after.filter((s) => Number.isFinite(f(s))).map((s) => ({ x: (s.at - from) / 60_000, y: f(s) }));
    const rss = after.map((s) => s.rssMb);
    const heap = after.map((s) => s.heapMb).filter(Number.isFinite);
    return {
      samples: after.length,
      rssSlopeMbPerMin: leastSquaresSlope(points((s) => s.rssMb)),
      heapSlopeMbPerMin: leastSquaresSlope(points((s) => s.heapMb)),
      rssMedianMb: percentile(rss, 50),
      rssMaxMb: Math.max(...rss),
      heapMedianMb: percentile(heap, 50),
      loadMedian: percentile(
        after.map((s) => s.load),
        50,
      ),
      loadMax: Math.max(...after.map((s) => s.load)),
      minutes: after.length ? (after.at(-1)!.at - after[0]!.at) / 60_000 : 0,
    };
  }
}

export function formatMemory(m: MemorySummary): string {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "?");
  return (
    `resident median ${f(m.rssMedianMb)} MB, max ${f(m.rssMaxMb)} MB, slope ${f(m.rssSlopeMbPerMin, 2)} MB/min; ` +
    `heap used median ${f(m.heapMedianMb)} MB, slope ${f(m.heapSlopeMbPerMin, 2)} MB/min ` +
    `(${m.samples} samples over ${f(m.minutes, 1)} min of churn after the warm-up; ` +
    `load average then: median ${f(m.loadMedian, 1)}, max ${f(m.loadMax, 1)})`
  );
}
