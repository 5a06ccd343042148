// console-server devices: a serial console reached over TCP, as ser2net and
// console servers (Opengear, Digi, Lantronix) offer one. Passive: a TCP
// connect, closed again without a byte sent, so a job on the console sees
// nothing. Active: the same probe exchange as a local serial console.
import { isIPv6, type Socket } from 'node:net';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';
import { printable } from './printable.js';
import { tcpConnect } from './tcp-connect.js';

export interface ConsoleServerSpec {
  host: string;
  port: number;
  probe?: { send: string; expect: string; timeout: number } | undefined;
}

/** host:port as a job and people use it: `[fd00::1]:7000` for an IPv6 literal. */
export function consoleEndpoint(spec: Pick<ConsoleServerSpec, 'host' | 'port'>): string {
  return isIPv6(spec.host) ? `[${spec.host}]:${spec.port}` : `${spec.host}:${spec.port}`;
}

export async function checkConsoleServer(spec: ConsoleServerSpec, ctx: CheckContext): Promise<Verdict> {
  const where = `console-server ${consoleEndpoint(spec)}`;
  const connection = await tcpConnect({ host: spec.host, port: spec.port }, ctx);
  if (!connection.ok) return unhealthy(connection.failure, `${where} ${connection.why}`);
  const { socket, ms } = connection;
  try {
    if (ctx.mode === 'passive' || spec.probe === undefined) return healthy(`${where} open in ${ms.toFixed(1)} ms`);
    return await exchangeProbe(socket, spec.probe, ctx.signal, where);
  } finally {
    socket.destroy();
  }
}

/** Sends the probe, then waits for the expected answer within the probe timeout. */
function exchangeProbe(socket: Socket, probe: NonNullable<ConsoleServerSpec['probe']>, signal: AbortSignal, where: string): Promise<Verdict> {
  const expect = new RegExp(probe.expect, 'm');
  let received = Buffer.alloc(0);
  return new Promise<Verdict>((resolve) => {
    const finish = (verdict: Verdict): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(verdict);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]).subarray(-4096);
      if (expect.test(received.toString('latin1'))) finish(healthy(`${where} answered`, printable(received)));
    };
    const onClose = (): void => finish(unhealthy('error', `${where} closed the connection during the check`, printable(received)));
    const onTimeout = (): void =>
      finish(
        received.length === 0
          ? unhealthy('no-answer', `${where} no answer within ${probe.timeout} ms`)
          : unhealthy('unexpected-answer', `${where} unexpected answer (first bytes ${JSON.stringify(printable(received.subarray(0, 32)))})`, `expected /${probe.expect}/, got ${printable(received)}`),
      );
    // The check's own deadline aborts with a TimeoutError; any other abort is the agent stopping.
    const onAbort = (): void => finish(unhealthy((signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'timeout' : 'error', `${where} check aborted`));
    const timer = setTimeout(onTimeout, probe.timeout);
    socket.on('data', onData);
    socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else if (probe.send !== '') socket.write(probe.send);
  });
}
