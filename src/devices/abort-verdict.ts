// The verdict of a check its signal ended: its own deadline (a TimeoutError
// reason) is a timeout, anything else (the agent stopping) an error. Shared by
// kinds whose work does not watch the signal itself (a sysfs read, a USB
// enumeration), so they still end promptly; and the result of a recovery
// step its signal ended, in the same words.
import { unhealthy, type Verdict } from './check-result.js';
import type { RecoveryAttempt } from './kinds/device-kind.js';

export function abortedVerdict(signal: AbortSignal, subject: string): Verdict {
  const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError';
  return unhealthy(
    timedOut ? 'timeout' : 'error',
    timedOut ? `${subject} check timed out` : `${subject} check aborted`,
  );
}

/** `work`'s value, or null as soon as the signal aborts (the work itself is left to finish). */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  let onAbort = (): void => undefined;
  const aborted = new Promise<null>((resolve) => {
    onAbort = (): void => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** A recovery step (a USB reset or rebind) its signal ended: "reset of 1fc9:0143 X timed out". */
export function abortedAttempt(signal: AbortSignal, what: string): RecoveryAttempt {
  const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError';
  return { ok: false, detail: `${what} ${timedOut ? 'timed out' : 'was cut short'}` };
}
