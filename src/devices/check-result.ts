// What every device check returns. Failure is a normal outcome for hardware,
// so checks return results instead of throwing (DESIGN §5).

export interface CheckResult {
  ok: boolean;
  /** One short sentence an operator can act on: "usb 1fc9:0143 serial X not present". */
  reason: string;
  /** Supporting facts: device node, RTT, last lines of output. */
  detail?: string;
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

export function unhealthy(reason: string, detail?: string): Verdict {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
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
