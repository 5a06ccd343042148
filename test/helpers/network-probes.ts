// What a job tries to reach in the network-policy tests: a job script that
// prints one line per attempt, "<label>: reachable" or "<label>: refused (why)",
// and the listeners it aims at (a TCP service inside an IPv6 target's
// namespace, a plain TCP listener on loopback).
import { createServer } from 'node:net';
import { startBackground } from '../../src/emulated-lab/background-process.js';
import { portOpen } from '../../src/emulated-lab/port-open.js';
import { lifo, type Cleanup } from './cleanup.js';
import { eventually } from './eventually.js';
import type { Ipv6Target } from './netns.js';

export interface Probe {
  label: string;
  /** A command line for /bin/sh; its exit status says whether it got through. The test writes it, not a job. */
  command: string;
}

export const tcpProbe = (label: string, host: string, port: number): Probe => ({
  label,
  command: `timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' ${host} ${port}`,
});

export const httpProbe = (label: string, url: string): Probe => ({
  label,
  // Double quotes: "$LABSLOT_URL" is the job's own variable.
  command: `curl -sS -m 5 -o /dev/null "${url}"`,
});

export const pingProbe = (label: string, address: string): Probe => ({
  label,
  command: `ping -6 -n -c 1 -W 3 ${address}`,
});

export function probeScript(probes: readonly Probe[]): string {
  return probes
    .map(
      (p) =>
        `if out=$(${p.command} 2>&1); then echo "${p.label}: reachable"; else echo "${p.label}: refused ($(echo $out | tr '\\n' ' '))"; fi`,
    )
    .concat('echo probes-done')
    .join('\n');
}

/** "<label>" → "reachable" | "refused (...)", from a job's output. */
export function probeResults(output: string): Map<string, string> {
  const results = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^([\w-]+): (reachable|refused.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) results.set(match[1], match[2]);
  }
  return results;
}

/** A TCP service on `port` inside the target's namespace, on all its addresses; stopped after the test. */
export async function serviceInTarget(t: Cleanup, target: Ipv6Target, port: number): Promise<void> {
  const socat = await startBackground([
    'ip',
    'netns',
    'exec',
    target.namespace,
    'socat',
    `TCP6-LISTEN:${port},fork,reuseaddr`,
    'SYSTEM:echo target',
  ]);
  lifo(t).after(socat.stop);
  await eventually(() => portOpen(port, target.globalAddress), {
    timeoutMs: 10_000,
    message: `a service on [${target.globalAddress}]:${port}`,
  });
}

/** A plain TCP listener on 127.0.0.1 (a local service, an artifact server); its port. */
export async function loopbackListener(t: Cleanup): Promise<number> {
  const server = createServer((socket) => {
    // A probe closes at once: a reset is its way of saying goodbye, not a failure here.
    socket.on('error', () => undefined);
    socket.end('hello\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  lifo(t).after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
