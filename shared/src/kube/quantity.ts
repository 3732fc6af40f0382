// Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`): parsing to a number and
// semantic comparison, because the API server normalizes what it stores (`1000m` comes back as `1`).

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$/;

/** True when `s` is a syntactically valid Kubernetes quantity. */
export function isQuantity(s: string): boolean {
  return QUANTITY.test(s.trim());
}

/**
 * The value of a quantity in base units (cores for CPU, bytes for memory).
 * Throws an Error naming the input when it is not a quantity.
 */
export function parseQuantity(s: string | number): number {
  if (typeof s === "number") return s;
  const m = QUANTITY.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not a Kubernetes quantity (expected e.g. 500m, 2, 1.5Gi, 1e3)`);
  const base = Number(m[1]);
  if (m[3] !== undefined) return base * 10 ** Number(m[3]);
  return base * (SUFFIX[m[2] ?? ""] ?? 1);
}

/**
 * Equal as quantities, with a relative tolerance small enough to tell `1` from `1001m`
 * but large enough to absorb float rounding of binary suffixes.
 */
export function quantitiesEqual(a: string | number, b: string | number): boolean {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  if (x === y) return true;
  return Math.abs(x - y) <= Math.max(Math.abs(x), Math.abs(y)) * 1e-12;
}

/** Compares two quantities: negative when a < b, 0 when equal, positive when a > b. */
export function compareQuantities(a: string | number, b: string | number): number {
  if (quantitiesEqual(a, b)) return 0;
  return parseQuantity(a) < parseQuantity(b) ? -1 : 1;
}
