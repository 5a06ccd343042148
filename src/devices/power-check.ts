// power outlet checks. pdudaemon has no status query and answers 200 even when
// the outlet command failed, so its check can only say the daemon answers; the
// `command` driver runs the configured status program. Switching is in
// power-control.ts.
import { lastLines, runProcess } from '../platform/run-process.js';
import { boundedFetch } from './bounded-fetch.js';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';

export type PowerSpec =
  | { driver: 'pdudaemon'; url: string; pdu: string; port: number; delay?: number | undefined }
  | { driver: 'command'; on: string[]; off: string[]; status: string[] };

export async function checkPower(spec: PowerSpec, ctx: CheckContext): Promise<Verdict> {
  if (spec.driver === 'pdudaemon') {
    try {
      // Any HTTP answer from the daemon's root proves it is up; asking an outlet would switch it.
      const status = await boundedFetch(new URL('/', spec.url), ctx.signal, ctx.timeoutMs, async (response) => {
        await response.body?.cancel();
        return response.status;
      });
      return healthy(
        `pdudaemon at ${spec.url} answering`,
        `HTTP ${status}; outlet ${spec.pdu}/${spec.port} state is not observable through pdudaemon`,
      );
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      if (cause === 'ECONNREFUSED')
        return unhealthy('refused', `pdudaemon at ${spec.url} not answering: connection refused`);
      if ((error as Error).name === 'TimeoutError')
        return unhealthy('timeout', `pdudaemon at ${spec.url} not answering: no answer within ${ctx.timeoutMs} ms`);
      const failure = cause === 'EHOSTUNREACH' || cause === 'ENETUNREACH' ? 'unreachable' : 'error';
      return unhealthy(failure, `pdudaemon at ${spec.url} not answering: ${cause ?? (error as Error).message}`);
    }
  }
  const result = await runProcess(spec.status, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  if (result.spawnError)
    return unhealthy(
      'error',
      `power status command cannot run: ${result.spawnError.code ?? result.spawnError.message}`,
      spec.status.join(' '),
    );
  if (result.timedOut)
    return unhealthy('timeout', `power status command timed out after ${ctx.timeoutMs} ms`, lastLines(result.output));
  if (result.code !== 0)
    return unhealthy(
      'command-failed',
      `power status command exited ${result.code ?? result.signal ?? 'abnormally'}`,
      lastLines(result.output),
    );
  return healthy('power status ok', lastLines(result.output));
}
