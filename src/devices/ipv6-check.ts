// ipv6 targets: one ICMPv6 echo with ping -6 (scoped to the interface for
// link-local addresses), then optionally a TCP connect to the configured port.
// Both are passive: they never disturb a job that talks to the same SP.
import { runProcess, lastLines } from '../platform/run-process.js';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';
import { tcpConnect } from './tcp-connect.js';

export interface Ipv6Spec {
  address: string;
  interface?: string | undefined;
  tcp_port?: number | undefined;
}

/** The address as tools and jobs use it: `fe80::1%lab0` when scoped. */
export function scopedAddress(spec: Ipv6Spec): string {
  return spec.interface !== undefined ? `${spec.address}%${spec.interface}` : spec.address;
}

export async function checkIpv6(spec: Ipv6Spec, ctx: CheckContext): Promise<Verdict> {
  const target = scopedAddress(spec);
  const waitSeconds = Math.max(1, Math.ceil(Math.min(ctx.timeoutMs, 5_000) / 1000));
  const argv = ['ping', '-6', '-n', '-c', '1', '-W', String(waitSeconds)];
  if (spec.interface !== undefined) argv.push('-I', spec.interface);
  argv.push(spec.address);
  const ping = await runProcess(argv, {
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C' },
  });
  if (ping.spawnError) return unhealthy('error', `ping not available: ${ping.spawnError.message}`);
  if (ping.code !== 0) {
    const output = lastLines(ping.output, 2);
    if (ping.code === 1 || ping.timedOut) return unhealthy('no-answer', `ipv6 ${target} no echo reply`, output);
    return unhealthy(
      'unreachable',
      `ipv6 ${target} unreachable: ${lastLines(ping.output, 1) || `ping exited ${ping.code}`}`,
      output,
    );
  }
  const rtt = /time[=<]([\d.]+) ?ms/.exec(ping.output)?.[1];
  const rttText = rtt !== undefined ? `rtt ${rtt} ms` : 'replied';
  if (spec.tcp_port === undefined) return healthy(`ipv6 ${target} ${rttText}`);
  // The connect gets what is left of the check's budget, so a silently dropping firewall is reported as such.
  const tcp = await tcpConnect(
    { host: target, port: spec.tcp_port, family: 6 },
    { ...ctx, timeoutMs: Math.max(100, ctx.timeoutMs - ping.durationMs - 50) },
  );
  if (!tcp.ok) return unhealthy(tcp.failure, `ipv6 ${target} ${rttText}, but tcp/${spec.tcp_port} ${tcp.why}`);
  tcp.socket.destroy();
  return healthy(`ipv6 ${target} ${rttText}, tcp/${spec.tcp_port} open in ${tcp.ms.toFixed(1)} ms`);
}
