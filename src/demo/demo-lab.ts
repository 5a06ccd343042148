// The emulated parts of the demo lab: a console per slot (socat PTY pair plus
// a responder playing the Hubris prompt), IPv6 targets in one network
// namespace, and a pdudaemon. Each part's teardown goes on the stack as soon
// as the part exists, so a failure halfway leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createIpv6Target } from '../emulated-lab/ipv6-namespace.js';
import { startPdudaemon } from '../emulated-lab/pdudaemon-process.js';
import { startPtyPair, startResponder } from '../emulated-lab/pty-console.js';
import { DEMO_PROMPT, DEMO_SLOTS, type DemoConfigParts, type DemoSlot } from './demo-config.js';
import type { ResourceStack } from './resource-stack.js';

export type EmulatedParts = Omit<DemoConfigParts, 'operatorHash' | 'submitterHash' | 'listen'>;

/** Prefix of the demo's network namespaces in `ip netns list`. */
export const DEMO_NAMESPACE_PREFIX = 'labslot-demo-';

/** The emulated SP console: a prompt for every line, as Hubris answers a bare return. */
function answerConsole(line: string): string {
  return line.trim() === ''
    ? `\r\n${DEMO_PROMPT}`
    : `\r\n${line.trim()}: this SP console is emulated by labslot demo\r\n${DEMO_PROMPT}`;
}

export async function buildEmulatedLab(dir: string, stack: ResourceStack, signal: AbortSignal): Promise<EmulatedParts> {
  const consoleDir = join(dir, 'consoles');
  mkdirSync(consoleDir, { recursive: true, mode: 0o755 });
  const consoles = {} as Record<DemoSlot, string>;
  for (const slot of DEMO_SLOTS) {
    signal.throwIfAborted();
    const pair = await startPtyPair(consoleDir, slot);
    stack.defer({ what: `console of ${slot} (socat ${pair.socat.pid})`, run: pair.stop, force: pair.socat.kill });
    const responder = await startResponder(pair.peer, answerConsole);
    // The responder is a port this process has open: it closes with the process.
    stack.defer({ what: `console responder of ${slot}`, run: responder.stop, force: () => undefined });
    consoles[slot] = pair.device;
  }

  signal.throwIfAborted();
  const target = createIpv6Target({ namePrefix: DEMO_NAMESPACE_PREFIX });
  stack.defer({
    what: `network namespace ${target.namespace}`,
    run: target.stop,
    force: () => execFileSync('ip', ['netns', 'delete', target.namespace], { stdio: 'ignore', timeout: 5_000 }),
  });
  const [extraAddress] = target.addAddresses(1);

  signal.throwIfAborted();
  const pduDir = join(dir, 'pdu');
  mkdirSync(pduDir, { recursive: true, mode: 0o755 });
  const pdu = await startPdudaemon(pduDir, { pdu: 'demo-pdu' });
  stack.defer({ what: `pdudaemon (${pdu.daemon.pid})`, run: pdu.stop, force: pdu.daemon.kill });

  return {
    consoles,
    pdudaemonUrl: pdu.url,
    pdu: pdu.pdu,
    namespace: target.namespace,
    hostInterface: target.hostInterface,
    globalAddresses: [target.globalAddress, extraAddress ?? target.globalAddress],
    linkLocalAddress: target.linkLocalAddress,
  };
}
