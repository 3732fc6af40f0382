// "Desired ⊆ observed": does the object the API server holds already say everything we would
// apply? A resync that finds no difference writes nothing. The comparison is semantic where the
// API server normalizes (quantities, omitted zero values) and strict everywhere else.
import { isQuantity, quantitiesEqual } from "./quantity.ts";

/** Map keys whose values are resource quantities (`resources.requests.cpu`, `spec.hard.pods`). */
const QUANTITY_PARENTS = new Set(["requests", "limits", "hard"]);

/**
 * The first path where `observed` does not hold what `desired` says, e.g.
 * `spec.template.spec.containers[0].image`, or undefined when desired ⊆ observed.
 *
 * - A key absent from desired is not ours to compare (defaults, other managers' fields).
 * - Arrays compare element by element and must have the same length.
 * - A zero value in desired (`false`, `0`, `""`, `[]`, `{}`) matches an absent observed value,
 *   because the API server omits empty fields.
 * - Values under `requests`, `limits` and `hard` compare as quantities (`1000m` equals `1`).
 */
export function firstDifference(desired: unknown, observed: unknown, path = ""): string | undefined {
  if (desired === undefined || desired === null) return undefined;
  if (observed === undefined || observed === null) return isZero(desired) ? undefined : path || "(root)";
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed) || observed.length !== desired.length) return path || "(root)";
    for (let i = 0; i < desired.length; i++) {
      const d = firstDifference(desired[i], observed[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (typeof desired === "object") {
    if (typeof observed !== "object" || Array.isArray(observed)) return path || "(root)";
    const obs = observed as Record<string, unknown>;
    const quantities = QUANTITY_PARENTS.has(lastKey(path));
    for (const [k, v] of Object.entries(desired as Record<string, unknown>)) {
      const p = path ? `${path}.${k}` : k;
      if (quantities && typeof v === "string" && isQuantityPair(v, obs[k])) {
        if (!quantitiesEqual(v, obs[k] as string)) return p;
        continue;
      }
      const d = firstDifference(v, obs[k], p);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return desired === observed ? undefined : path || "(root)";
}

/** True when everything `desired` says is already in `observed`. */
export function isSubset(desired: unknown, observed: unknown): boolean {
  return firstDifference(desired, observed) === undefined;
}

function isZero(v: unknown): boolean {
  if (v === false || v === 0 || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object" && v !== null) return Object.values(v).every(isZero);
  return false;
}

function isQuantityPair(a: string, b: unknown): boolean {
  return (typeof b === "string" || typeof b === "number") && isQuantity(a) && isQuantity(String(b));
}

function lastKey(path: string): string {
  const i = path.lastIndexOf(".");
  return i < 0 ? path : path.slice(i + 1);
}
