// The active console probe (send a string, wait for an expected answer)
// over any byte stream: a local tty opened by serialport, or a TCP
// connection to a console server. Every outcome an operator meets has its own
// reason: answered, no answer, an unexpected answer with its first bytes,
// the line closing or failing, the check aborted.
import type { EventEmitter } from 'node:events';
import { healthy, unhealthy, type Verdict } from './check-result.js';
import { printable } from './printable.js';

export interface ConsoleProbe {
  send: string;
  expect: string;
  timeout: number;
}

/** A console's byte stream: 'data', 'close' and 'error' events, and write(). */
export type ConsoleStream = EventEmitter & { write(data: string): unknown };

export interface ProbeWording {
  /** How reasons name the console: "serial /dev/pts/3", "console-server 10.0.0.5:7001". */
  subject: string;
  /** Where it was reached, put before details (a by-id link and its tty); none for a network console. */
  where?: string | undefined;
  /** What the line closing mid-check is called: "disconnected", "closed the connection". */
  closed: string;
  /** The detail of a mid-check close (an I/O error seen just before). */
  closeDetail?: () => string | undefined;
}

export function exchangeProbe(
  stream: ConsoleStream,
  probe: ConsoleProbe,
  signal: AbortSignal,
  wording: ProbeWording,
): Promise<Verdict> {
  const { subject, where } = wording;
  const detail = (text: string): string => (where === undefined ? text : `${where}: ${text}`);
  const expect = new RegExp(probe.expect, 'm');
  let received = Buffer.alloc(0);
  return new Promise<Verdict>((resolve) => {
    const finish = (verdict: Verdict): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      stream.off('data', onData);
      stream.off('close', onClose);
      stream.off('error', onIoError);
      resolve(verdict);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]).subarray(-4096);
      if (expect.test(received.toString('latin1'))) finish(healthy(`${subject} answered`, detail(printable(received))));
    };
    const onClose = (): void =>
      finish(unhealthy('error', `${subject} ${wording.closed} during the check`, wording.closeDetail?.() ?? where));
    const onIoError = (error: Error): void =>
      finish(unhealthy('error', `${subject} failed during the check: ${error.message}`, where));
    const onTimeout = (): void =>
      finish(
        received.length === 0
          ? unhealthy('no-answer', `${subject} no answer within ${probe.timeout} ms`, where)
          : unhealthy(
              'unexpected-answer',
              `${subject} unexpected answer (first bytes ${JSON.stringify(printable(received.subarray(0, 32)))})`,
              detail(`expected /${probe.expect}/, got ${printable(received)}`),
            ),
      );
    // The check's own deadline aborts with a TimeoutError; any other abort is the agent stopping.
    const onAbort = (): void =>
      finish(
        unhealthy(
          (signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'timeout' : 'error',
          `${subject} check aborted`,
          where,
        ),
      );
    const timer = setTimeout(onTimeout, probe.timeout);
    stream.on('data', onData);
    stream.on('close', onClose);
    stream.on('error', onIoError);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else if (probe.send !== '') stream.write(probe.send);
  });
}
