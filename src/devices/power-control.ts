// Switching power outlets for recovery (power-cycling a wedged testbed), with
// either driver. pdudaemon's 200 only means "accepted": callers must verify
// the effect with a check.
import { lastLines, runProcess } from '../platform/run-process.js';
import type { PowerSpec } from './power-check.js';
import { boundedFetch } from './bounded-fetch.js';

export class PowerControlError extends Error {
  override readonly name = 'PowerControlError';
}

export type PowerAction = 'on' | 'off' | 'cycle';

/** An outlet's switch, for recovery (power-cycling a wedged testbed). */
export interface PowerControl {
  on(signal: AbortSignal): Promise<void>;
  off(signal: AbortSignal): Promise<void>;
  cycle(signal: AbortSignal): Promise<void>;
}

export function powerControl(spec: PowerSpec): PowerControl {
  return {
    on: (signal) => switchPower(spec, 'on', signal),
    off: (signal) => switchPower(spec, 'off', signal),
    cycle: (signal) => switchPower(spec, 'cycle', signal),
  };
}

/** Switches an outlet. pdudaemon's 200 only means "accepted": callers must verify the effect. */
export async function switchPower(
  spec: PowerSpec,
  action: PowerAction,
  signal: AbortSignal,
  timeoutMs = 30_000,
): Promise<void> {
  if (spec.driver === 'pdudaemon') {
    // pdudaemon calls a power cycle "reboot".
    const url = new URL(`/power/control/${action === 'cycle' ? 'reboot' : action}`, spec.url);
    url.searchParams.set('hostname', spec.pdu);
    url.searchParams.set('port', String(spec.port));
    if (action === 'cycle' && spec.delay !== undefined)
      url.searchParams.set('delay', String(Math.ceil(spec.delay / 1000)));
    const { ok, status, body } = await boundedFetch(url, signal, timeoutMs, async (response) => ({
      ok: response.ok,
      status: response.status,
      body: await response.text(),
    }));
    if (!ok)
      throw new PowerControlError(
        `pdudaemon refused ${action} for ${spec.pdu}/${spec.port}: HTTP ${status} ${body.trim()}`,
      );
    return;
  }
  const steps = action === 'cycle' ? [spec.off, spec.on] : [action === 'on' ? spec.on : spec.off];
  for (const argv of steps) {
    const result = await runProcess(argv, { timeoutMs, signal });
    if (result.code !== 0)
      throw new PowerControlError(
        `power ${action} command ${argv.join(' ')} failed: ${result.spawnError?.message ?? `exit ${result.code ?? result.signal}`} ${lastLines(result.output, 2)}`,
      );
  }
}
