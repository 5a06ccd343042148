// console-server devices: a serial console reached over TCP, as ser2net and
// console servers (Opengear, Digi, Lantronix) offer one. Passive: a TCP
// connect, closed again without a byte sent, so a job on the console sees
// nothing. Active: the same probe exchange as a local serial console.
import { isIPv6 } from 'node:net';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';
import { exchangeProbe, type ConsoleProbe } from './probe-exchange.js';
import { tcpConnect } from './tcp-connect.js';

export interface ConsoleServerSpec {
  host: string;
  port: number;
  probe?: ConsoleProbe | undefined;
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
    return await exchangeProbe(socket, spec.probe, ctx.signal, { subject: where, closed: 'closed the connection' });
  } finally {
    socket.destroy();
  }
}
