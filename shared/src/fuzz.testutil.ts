// Settings every property-based (fast-check) test shares: a fixed seed, so `npm test` runs the same
// inputs every time and a failure reproduces, and run counts small enough for the whole fuzz set to
// take seconds. To search wider locally: MERIDIAN_FUZZ_SEED=<n> (or "random") and
// MERIDIAN_FUZZ_RUNS=<factor>, e.g. `MERIDIAN_FUZZ_SEED=random MERIDIAN_FUZZ_RUNS=20 node --test x.fuzz.test.ts`.
// A failure prints the seed, the path and the shrunk counterexample; fc.assert's `path` replays it.
import type { Parameters } from "fast-check";

export const DEFAULT_FUZZ_SEED = 20260415;

/** The seed of this run: MERIDIAN_FUZZ_SEED, a random one for "random", else the fixed default. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const s = env.MERIDIAN_FUZZ_SEED;
  if (s === undefined || s === "") return DEFAULT_FUZZ_SEED;
  if (s === "random") return Math.floor(Math.random() * 2 ** 31);
  const n = Number(s);
  if (!Number.isSafeInteger(n))
    throw new Error(`MERIDIAN_FUZZ_SEED must be an integer or "random", not ${JSON.stringify(s)}`);
  return n;
}

/** `numRuns` times MERIDIAN_FUZZ_RUNS (a positive number, default 1). */
export function fuzzRuns(numRuns: number, env: NodeJS.ProcessEnv = process.env): number {
  const f = env.MERIDIAN_FUZZ_RUNS === undefined ? 1 : Number(env.MERIDIAN_FUZZ_RUNS);
  if (!(f > 0))
    throw new Error(
      `MERIDIAN_FUZZ_RUNS must be a positive factor, not ${JSON.stringify(env.MERIDIAN_FUZZ_RUNS)}`,
    );
  return Math.max(1, Math.round(numRuns * f));
}

/** fc.assert parameters: the run's seed, `numRuns` scaled, and the seed printed on failure. */
export function fuzzParams<T>(numRuns: number, extra: Parameters<T> = {}): Parameters<T> {
  return { seed: fuzzSeed(), numRuns: fuzzRuns(numRuns), ...extra };
}
