// What every device check returns. Failure is a normal outcome for hardware,
// so checks return results instead of throwing (DESIGN §5).

/**
 * What kind of failure a failed check was, decided where the check knows it,
 * so /metrics can count failures by class without parsing reasons.
 * timeout: no verdict within the check's deadline; not-present: the device,
 * its node or tty is not there; no-answer: there but silent (no echo reply,
 * no console output); unreachable: no route to it; busy: another process
 * holds it; unexpected-answer: it answered, wrongly; refused: a connection was
 * refused; command-failed: a check program said no (non-zero exit); error:
 * anything else (cannot open or run, I/O error, a check that threw).
 */
export const FAILURE_CLASSES = [
  'timeout',
  'not-present',
  'no-answer',
  'unreachable',
  'busy',
  'unexpected-answer',
  'refused',
  'command-failed',
  'error',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export interface CheckResult {
  ok: boolean;
  /** One short sentence an operator can act on: "usb 1fc9:0143 serial X not present". */
  reason: string;
  /** Supporting facts: device node, RTT, last lines of output. */
  detail?: string;
  /** Set on failures; a result without one (built by hand, e.g. in tests) counts as `error`. */
  failure?: FailureClass;
  durationMs: number;
}

/**
 * Passive checks never disturb a device a job may be using (presence, ping,
 * daemon reachable). Active checks talk to the device (open the console,
 * run a command) and only run while no job holds the slot (DESIGN §2).
 */
export type CheckMode = 'passive' | 'active';

export interface CheckContext {
  mode: CheckMode;
  signal: AbortSignal;
  timeoutMs: number;
}

/** A check's verdict before the runner adds the duration. */
export type Verdict = Omit<CheckResult, 'durationMs'>;

export function healthy(reason: string, detail?: string): Verdict {
  return detail === undefined ? { ok: true, reason } : { ok: true, reason, detail };
}

export function unhealthy(failure: FailureClass, reason: string, detail?: string): Verdict {
  return detail === undefined ? { ok: false, reason, failure } : { ok: false, reason, detail, failure };
}

/** The class of a result's failure; null for a success. */
export function failureClass(result: Pick<CheckResult, 'ok' | 'failure'>): FailureClass | null {
  return result.ok ? null : (result.failure ?? 'error');
}

/** Why a check did not run: a slot in use gets passive checks only, and active ones wait. */
export const SKIPPED_ON_LEASED_SLOT = 'skipped: the slot is leased, so only passive checks run';

export interface CheckResultJson {
  ok: boolean | null;
  reason: string;
  detail: string | null;
  duration_ms: number | null;
}

/** A result as the API and `labslot check --json` show it; null (skipped) included. */
export function checkResultJson(result: CheckResult | null): CheckResultJson {
  if (result === null) return { ok: null, reason: SKIPPED_ON_LEASED_SLOT, detail: null, duration_ms: null };
  return { ok: result.ok, reason: result.reason, detail: result.detail ?? null, duration_ms: result.durationMs };
}
