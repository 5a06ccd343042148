// IPv6 target checks against a real network namespace: global and link-local
// targets, an address nobody has, a link that is down, a closed TCP port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { checkIpv6, type Ipv6Spec } from '../src/devices/ipv6-check.js';
import { runCheck } from '../src/devices/run-check.js';
import { ipv6Target } from './helpers/netns.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const NEEDS = [ROOT, command('ip', ['-V']), command('ping', ['-V'])];

function check(spec: Ipv6Spec, timeoutMs = 3_000): ReturnType<typeof runCheck> {
  return runCheck(timeoutMs, new AbortController().signal, (signal) =>
    checkIpv6(spec, { mode: 'passive', signal, timeoutMs }),
  );
}

/** A TCP listener inside the namespace, like an SP's management service. */
async function listenIn(t: Parameters<typeof ipv6Target>[0], namespace: string, port: number): Promise<void> {
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      namespace,
      process.execPath,
      '-e',
      `require('net').createServer(s => s.end()).listen(${port}, '::', () => console.log('up'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => server.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('listener did not start')), 5_000);
    server.stdout.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('ipv6 checks in a network namespace', () => {
  it('reaches a global address and reports the RTT', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const target = ipv6Target(t);
    const result = await check({ address: target.globalAddress });
    assert.equal(result.ok, true, result.reason);
    assert.match(result.reason, new RegExp(`^ipv6 ${target.globalAddress} rtt [\\d.]+ ms$`));
  });

  it('reaches a link-local address through its interface', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const target = ipv6Target(t);
    const result = await check({ address: target.linkLocalAddress, interface: target.hostInterface });
    assert.equal(result.ok, true, result.reason);
    assert.match(result.reason, new RegExp(`fe80::2%${target.hostInterface} rtt`));
  });

  it('fails for an address nobody answers', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const target = ipv6Target(t);
    const result = await check({ address: target.globalAddress.replace(/2$/, '99') });
    assert.equal(result.ok, false);
    assert.match(result.reason, /no echo reply|unreachable/);
  });

  it('fails when the interface is down or missing', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const target = ipv6Target(t);
    target.setHostLink(false);
    const down = await check({ address: target.linkLocalAddress, interface: target.hostInterface });
    assert.equal(down.ok, false);
    const missing = await check({ address: 'fe80::2', interface: 'lsnosuch0' });
    assert.equal(missing.ok, false);
    assert.match(missing.reason, /unreachable: .*lsnosuch0/);
  });

  it('checks the TCP port: open passes, closed fails with the reason', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const target = ipv6Target(t);
    await listenIn(t, target.namespace, 11111);
    const open = await check({ address: target.linkLocalAddress, interface: target.hostInterface, tcp_port: 11111 });
    assert.equal(open.ok, true, open.reason);
    assert.match(open.reason, /tcp\/11111 open/);
    const closed = await check({ address: target.globalAddress, tcp_port: 11112 });
    assert.equal(closed.ok, false);
    assert.match(closed.reason, /rtt [\d.]+ ms, but tcp\/11112 closed \(connection refused\)/);
  });
});
