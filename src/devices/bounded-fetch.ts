// An HTTP request to a power controller that settles by its deadline or its
// caller's abort, however fetch treats the signal it is given. fetch follows
// a composite signal (AbortSignal.any with AbortSignal.timeout) through weak
// references, and under GC pressure an abort can be lost on the way (see
// nodejs/node#55428): a pdudaemon check against a server that never answered
// then waited for minutes instead of its timeout, in one CI run. Here the
// deadline and the abort are our own timer and listener, held strongly, and
// they settle the call themselves besides aborting fetch.

/**
 * fetch(url), then `read` of its response, within `timeoutMs` and until `signal` aborts. A deadline
 * rejects with a DOMException named "TimeoutError", an abort with the signal's reason.
 */
export async function boundedFetch<T>(
  url: URL,
  signal: AbortSignal,
  timeoutMs: number,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const stop = (reason: unknown): void => {
      controller.abort(reason);
      reject(reason instanceof Error ? reason : new Error(String(reason)));
    };
    timer = setTimeout(() => stop(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    onAbort = () => stop(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([fetch(url, { signal: controller.signal }).then(read), stopped]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    // Whatever is still open of the exchange goes (a response body not read to its end).
    controller.abort();
  }
}
