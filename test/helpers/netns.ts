// A real IPv6 target (src/emulated-lab/ipv6-namespace.ts) whose namespace is
// deleted after the test, and checked to be gone: a namespace that outlives
// its test is a leak like an agent's (leak-check.ts).
import { existsSync } from 'node:fs';
import { createIpv6Target, type Ipv6Target } from '../../src/emulated-lab/ipv6-namespace.js';
import { lifo, type Cleanup } from './cleanup.js';
import { LeakError } from './leak-check.js';

export type { Ipv6Target };

export function ipv6Target(t: Cleanup): Ipv6Target {
  const target = createIpv6Target();
  lifo(t).after(async () => {
    await target.stop();
    if (existsSync(`/run/netns/${target.namespace}`))
      throw new LeakError(`the IPv6 target ${target.namespace}`, [`network namespace ${target.namespace}`]);
  });
  return target;
}
