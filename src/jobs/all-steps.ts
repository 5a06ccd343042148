// Steps that run side by side in worker setup and cleanup. Unlike
// Promise.all, this waits for every one of them before it fails: cleanup
// must never start while a sibling step is still making something (a disk
// mounted after its cleanup looked would be left behind).

/** Waits for all; rejects with the first failure (in the order given) once none is still running. */
export async function allSteps(steps: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
