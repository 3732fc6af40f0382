// Waiting for every write of a run, even when one fails. `Promise.all` rejects at the first failure
// and leaves the others in flight: a reconcile that ends that way is retried while its earlier writes
// may still land, which shows up as a second POST of the same object (refused, but already charged
// by the ResourceQuota admission) or as a write after the controller reported itself idle.

/** Resolves with every value once all have settled; rejects with the first failure (in input order) once all have settled. */
export async function settleAll<T extends readonly unknown[] | []>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results: PromiseSettledResult<unknown>[] = await Promise.allSettled(promises as readonly unknown[]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
