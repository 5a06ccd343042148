// Runs one check under its deadline: whatever the check does (hangs in a
// driver, throws), the caller gets a CheckResult no later than the timeout.
import { coerceError } from '../errors.js';
import type { CheckResult, Verdict } from './check-result.js';

export async function runCheck(
  timeoutMs: number,
  signal: AbortSignal,
  check: (signal: AbortSignal) => Promise<Verdict>,
): Promise<CheckResult> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort = (): void => undefined;
  // A small margin lets a check that watches its own signal report its own, more precise reason.
  const deadline = new Promise<Verdict>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error('timeout'));
      resolve({ ok: false, reason: `check timed out after ${timeoutMs} ms`, failure: 'timeout' });
    }, timeoutMs + 250);
    // A caller's abort (the agent stopping) ends the wait at once, even for a check that ignores signals.
    onAbort = (): void => {
      controller.abort(signal.reason);
      resolve({ ok: false, reason: 'check aborted', failure: 'error' });
    };
  });
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    const verdict = await Promise.race([
      check(AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)])).catch((error: unknown): Verdict => ({
        ok: false,
        reason: `check failed: ${coerceError(error).message}`,
        failure: 'error',
      })),
      deadline,
    ]);
    return { ...verdict, durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}
