// The one way tests wait for something: retry a check until it passes or a
// deadline passes. A check passes when it returns anything but `false` (its
// value is handed back, e.g. a parsed line or a timestamp) and fails when it
// returns `false` or throws (an assertion that does not hold yet). Every wait
// is bounded: an attempt that itself never settles (a hung request) ends the
// wait at the deadline too. No timers from here outlive the wait.

export interface EventuallyOptions {
  /** How long to keep trying; 10 s unless said otherwise. */
  timeoutMs?: number;
  /** The pause between attempts; 20 ms unless said otherwise. */
  intervalMs?: number;
  /** What is waited for, in words; a function is read only on failure (for output so far, a last view). */
  message?: string | (() => string);
}

/** Thrown from a check to stop retrying at once: the awaited thing can no longer happen (its process ended). */
export class GiveUp extends Error {
  override readonly name = 'GiveUp';
}

/** A check whose last attempt did not settle before the deadline. */
const HUNG = Symbol('hung');

export async function eventually<T>(
  check: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<Exclude<T, false>> {
  const { timeoutMs = 10_000, intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    let attempt: T | typeof HUNG;
    try {
      attempt = await settleBy(check, deadline);
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      attempt = false as T;
      last = error;
    }
    if (attempt === HUNG)
      throw timedOut(options, timeoutMs, new Error('the last attempt did not finish before the deadline'));
    if (attempt !== false) return attempt as Exclude<T, false>;
    if (Date.now() >= deadline) throw timedOut(options, timeoutMs, last);
    await pause(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** The check's outcome, or HUNG when it has not settled by the deadline (plus a moment for a check that started just before it). */
async function settleBy<T>(check: () => T | Promise<T>, deadline: number): Promise<T | typeof HUNG> {
  const pending = Promise.resolve().then(check);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<typeof HUNG>(
    (resolve) => (timer = setTimeout(() => resolve(HUNG), Math.max(0, deadline - Date.now()) + 1_000)),
  );
  try {
    // A check that loses the race may still reject later; nobody awaits it then.
    pending.catch(() => undefined);
    return await Promise.race([pending, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The last failed assertion, with what was awaited put in front of its message
 * (an AssertionError keeps its actual/expected for the report); without one
 * (the check only ever said `false`), a plain timeout error.
 */
function timedOut(options: EventuallyOptions, timeoutMs: number, last: unknown): Error {
  const message = typeof options.message === 'function' ? options.message() : (options.message ?? 'a condition');
  const prefix = `timed out after ${timeoutMs} ms waiting for ${message}`;
  if (last instanceof Error) {
    last.message = `${prefix}: ${last.message}`;
    return last;
  }
  return new Error(
    last === undefined ? prefix : `${prefix}: ${typeof last === 'string' ? last : JSON.stringify(last)}`,
  );
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
