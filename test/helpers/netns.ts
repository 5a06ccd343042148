// A real IPv6 target (src/emulated-lab/ipv6-namespace.ts) whose namespace is
// deleted after the test.
import { createIpv6Target, type Ipv6Target } from '../../src/emulated-lab/ipv6-namespace.js';
import { lifo, type Cleanup } from './cleanup.js';

export type { Ipv6Target };

export function ipv6Target(t: Cleanup): Ipv6Target {
  const target = createIpv6Target();
  lifo(t).after(target.stop);
  return target;
}
