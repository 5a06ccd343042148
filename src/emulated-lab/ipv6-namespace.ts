// A real IPv6 target: a network namespace joined to this host by a veth pair,
// with a global and a link-local address on its side (DESIGN §6).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runProcess } from '../platform/run-process.js';
import { LabPartError } from './lab-part-error.js';

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
  /** Deletes the namespace, which removes both ends of the veth pair; idempotent. */
  stop: () => Promise<void>;
}

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch (error) {
    const output = (error as { stderr?: Buffer | string }).stderr;
    const stderr = (Buffer.isBuffer(output) ? output.toString('utf8') : (output ?? '')).trim();
    throw new LabPartError(`ip ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`, { cause: error });
  }
}

/** `namePrefix` names the namespace (`<prefix><6 hex digits>`), so a lab's namespaces are recognisable in `ip netns list`. */
export function createIpv6Target({ namePrefix = 'lsns-' } = {}): Ipv6Target {
  const id = randomBytes(3).toString('hex');
  const namespace = `${namePrefix}${id}`;
  // Interface names have at most 15 characters.
  const hostInterface = `lsh${id}`;
  const targetInterface = `lst${id}`;
  const prefix = `fd00:${parseInt(id.slice(0, 4), 16).toString(16)}:${parseInt(id.slice(4), 16).toString(16)}::`;
  ip('netns', 'add', namespace);
  try {
    ip('link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', targetInterface);
    ip('link', 'set', targetInterface, 'netns', namespace);
    ip('-6', 'addr', 'add', `${prefix}1/64`, 'dev', hostInterface, 'nodad');
    ip('-6', 'addr', 'add', 'fe80::1/64', 'dev', hostInterface, 'nodad');
    ip('link', 'set', hostInterface, 'up');
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    ip('-n', namespace, '-6', 'addr', 'add', `${prefix}2/64`, 'dev', targetInterface, 'nodad');
    ip('-n', namespace, '-6', 'addr', 'add', 'fe80::2/64', 'dev', targetInterface, 'nodad');
    ip('-n', namespace, 'link', 'set', targetInterface, 'up');
  } catch (error) {
    // Half made: the host end exists until its peer has moved into the namespace.
    for (const undo of [
      ['link', 'delete', hostInterface],
      ['netns', 'delete', namespace],
    ]) {
      try {
        ip(...undo);
      } catch {
        // Not made yet, or gone with the namespace.
      }
    }
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const result = await runProcess(['ip', 'netns', 'delete', namespace], { timeoutMs: 10_000 });
      // Gone already (someone deleted it by hand) is as good as deleted.
      if (result.code !== 0 && existsSync(`/run/netns/${namespace}`))
        throw new LabPartError(`ip netns delete ${namespace} failed: ${result.output.trim()}`);
    })());
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
    stop,
  };
}
