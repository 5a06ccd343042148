// power outlets. pdudaemon has no status query and answers 200 even when the
// outlet command failed, so its check can only say the daemon answers; the
// `command` driver runs the configured status program. Both drivers offer
// on/off/cycle for recovery.
import { lastLines, runProcess } from '../platform/run-process.js';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';

export type PowerSpec =
  | { driver: 'pdudaemon'; url: string; pdu: string; port: number; delay?: number | undefined }
  | { driver: 'command'; on: string[]; off: string[]; status: string[] };

export async function checkPower(spec: PowerSpec, ctx: CheckContext): Promise<Verdict> {
  if (spec.driver === 'pdudaemon') {
    try {
      // Any HTTP answer from the daemon's root proves it is up; asking an outlet would switch it.
      const response = await fetch(new URL('/', spec.url), { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.timeoutMs)]) });
      await response.body?.cancel();
      return healthy(`pdudaemon at ${spec.url} answering`, `HTTP ${response.status}; outlet ${spec.pdu}/${spec.port} state is not observable through pdudaemon`);
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      const why = cause === 'ECONNREFUSED' ? 'connection refused' : (error as Error).name === 'TimeoutError' ? `no answer within ${ctx.timeoutMs} ms` : (cause ?? (error as Error).message);
      return unhealthy(`pdudaemon at ${spec.url} not answering: ${why}`);
    }
  }
  const result = await runProcess(spec.status, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  if (result.spawnError) return unhealthy(`power status command cannot run: ${result.spawnError.code ?? result.spawnError.message}`, spec.status.join(' '));
  if (result.timedOut) return unhealthy(`power status command timed out after ${ctx.timeoutMs} ms`, lastLines(result.output));
  if (result.code !== 0) return unhealthy(`power status command exited ${result.code ?? result.signal ?? 'abnormally'}`, lastLines(result.output));
  return healthy('power status ok', lastLines(result.output));
}

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
export async function switchPower(spec: PowerSpec, action: PowerAction, signal: AbortSignal, timeoutMs = 30_000): Promise<void> {
  if (spec.driver === 'pdudaemon') {
    // pdudaemon calls a power cycle "reboot".
    const url = new URL(`/power/control/${action === 'cycle' ? 'reboot' : action}`, spec.url);
    url.searchParams.set('hostname', spec.pdu);
    url.searchParams.set('port', String(spec.port));
    if (action === 'cycle' && spec.delay !== undefined) url.searchParams.set('delay', String(Math.ceil(spec.delay / 1000)));
    const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
    const body = await response.text();
    if (!response.ok) throw new PowerControlError(`pdudaemon refused ${action} for ${spec.pdu}/${spec.port}: HTTP ${response.status} ${body.trim()}`);
    return;
  }
  const steps = action === 'cycle' ? [spec.off, spec.on] : [action === 'on' ? spec.on : spec.off];
  for (const argv of steps) {
    const result = await runProcess(argv, { timeoutMs, signal });
    if (result.code !== 0) throw new PowerControlError(`power ${action} command ${argv.join(' ')} failed: ${result.spawnError?.message ?? `exit ${result.code ?? result.signal}`} ${lastLines(result.output, 2)}`);
  }
}
