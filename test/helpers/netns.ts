// A real IPv6 target: a network namespace joined to this host by a veth pair,
// with a global and a link-local address on its side (DESIGN §6).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Cleanup } from './cleanup.js';

export interface Ipv6Target {
  namespace: string;
  /** The host's end of the veth pair: the interface link-local addresses are scoped to. */
  hostInterface: string;
  globalAddress: string;
  linkLocalAddress: string;
  /** Runs a command inside the target's namespace. */
  exec: (argv: string[]) => string;
  setHostLink: (up: boolean) => void;
  /** Adds more global addresses to the target (prefix::N), for labs with many targets. */
  addAddresses: (count: number) => string[];
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

export function ipv6Target(t: Cleanup): Ipv6Target {
  const id = randomBytes(3).toString('hex');
  const namespace = `lsns-${id}`;
  const hostInterface = `lsh${id}`;
  const targetInterface = `lst${id}`;
  const prefix = `fd00:${parseInt(id.slice(0, 4), 16).toString(16)}:${parseInt(id.slice(4), 16).toString(16)}::`;
  ip('netns', 'add', namespace);
  t.after(() => {
    // Deleting the namespace also removes the veth pair (both ends).
    ip('netns', 'delete', namespace);
  });
  ip('link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', targetInterface);
  ip('link', 'set', targetInterface, 'netns', namespace);
  ip('-6', 'addr', 'add', `${prefix}1/64`, 'dev', hostInterface, 'nodad');
  ip('-6', 'addr', 'add', 'fe80::1/64', 'dev', hostInterface, 'nodad');
  ip('link', 'set', hostInterface, 'up');
  ip('-n', namespace, 'link', 'set', 'lo', 'up');
  ip('-n', namespace, '-6', 'addr', 'add', `${prefix}2/64`, 'dev', targetInterface, 'nodad');
  ip('-n', namespace, '-6', 'addr', 'add', 'fe80::2/64', 'dev', targetInterface, 'nodad');
  ip('-n', namespace, 'link', 'set', targetInterface, 'up');
  return {
    namespace,
    hostInterface,
    globalAddress: `${prefix}2`,
    linkLocalAddress: 'fe80::2',
    exec: (argv) => execFileSync('ip', ['netns', 'exec', namespace, ...argv], { encoding: 'utf8', timeout: 10_000 }),
    setHostLink: (up) => ip('link', 'set', hostInterface, up ? 'up' : 'down'),
    addAddresses: (count) =>
      Array.from({ length: count }, (_, i) => {
        const address = `${prefix}${(0x100 + i).toString(16)}`;
        ip('-n', namespace, '-6', 'addr', 'add', `${address}/64`, 'dev', targetInterface, 'nodad');
        return address;
      }),
  };
}
