// The campaign's scoreboard: one line per scenario (verdict, convergence time, the five invariants)
// and a summary, as `npm run faults` prints them and docs/reliability.md records them.

export interface InvariantResult {
  ok: boolean;
  detail: string;
}

export type InvariantKey = "a" | "b" | "c" | "d" | "e";

export interface ScenarioResult {
  name: string;
  verdict: "PASS" | "FAIL" | "ERROR";
  error?: string;
  convergenceMs?: number;
  invariants?: Record<InvariantKey, InvariantResult>;
  notes: string[];
  durationMs: number;
}

export const INVARIANT_NAMES: Record<InvariantKey, string> = {
  a: "no job state lost (exactly-once output)",
  b: "no wrongful deletion (inventory by uid)",
  c: "convergence (SpecAligned, job RUNNING, reported)",
  d: "no secret in any log",
  e: "no crash loop",
};

/** `PASS  name  conv 4.1 s  a+ b+ c+ d+ e+  (details of what failed, notes)` */
export function scoreLine(r: ScenarioResult): string {
  const conv =
    r.convergenceMs === undefined
      ? "conv     -"
      : `conv ${(r.convergenceMs / 1000).toFixed(1).padStart(5)} s`;
  const inv = r.invariants
    ? (Object.keys(INVARIANT_NAMES) as InvariantKey[])
        .map((k) => `${k}${r.invariants![k].ok ? "+" : "-"}`)
        .join(" ")
    : "a? b? c? d? e?";
  const failed = r.invariants
    ? (Object.entries(r.invariants) as Array<[InvariantKey, InvariantResult]>)
        .filter(([, v]) => !v.ok)
        .map(([k, v]) => `${k}: ${v.detail}`)
    : [];
  const details = [...(r.error ? [`error: ${r.error}`] : []), ...failed, ...r.notes].join("; ");
  const took = `${Math.round(r.durationMs / 1000)} s`.padStart(5);
  return `${r.verdict.padEnd(5)} ${r.name.padEnd(34)} ${conv}  ${inv}  ${took}${details ? `  (${details})` : ""}`;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
};

/** The summary lines under the scoreboard. */
export function summary(results: ScenarioResult[], wallMs: number): string[] {
  const count = (v: ScenarioResult["verdict"]) => results.filter((r) => r.verdict === v).length;
  const conv = results.flatMap((r) => (r.convergenceMs === undefined ? [] : [r.convergenceMs]));
  const perInvariant = (Object.keys(INVARIANT_NAMES) as InvariantKey[]).map((k) => {
    const held = results.filter((r) => r.invariants?.[k].ok).length;
    return `${k} ${held}/${results.length}`;
  });
  return [
    `${results.length} scenarios: ${count("PASS")} passed, ${count("FAIL")} failed, ${count("ERROR")} errors ` +
      `in ${Math.round(wallMs / 1000)} s`,
    `invariants held: ${perInvariant.join(", ")}`,
    conv.length
      ? `convergence after the fault: median ${(median(conv) / 1000).toFixed(1)} s, max ${(Math.max(...conv) / 1000).toFixed(1)} s`
      : "convergence: none measured",
  ];
}
