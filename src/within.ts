// `promise`, or `fallback` once `ms` have passed, whichever comes first; the
// timer never outlives the wait. For waits that must end (a relay draining, a
// name being resolved) whose promise cannot be cancelled.

export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
