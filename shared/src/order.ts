// One way to order strings: by UTF-16 code unit, as Array.prototype.sort does without a comparator.
// The strings Meridian orders are DNS labels, object names and config keys, which have no locale, and
// String.prototype.localeCompare loads ICU's collation data on first use (measured +3.5 MB resident
// in a Node 24 process), which the workspace agent's memory budget has no room for.

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
