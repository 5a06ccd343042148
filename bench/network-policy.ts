// What a worker's network policy ([jobs] network = "slot") adds to its lease:
// one `nft -f` transaction at setup and one `nft delete chain` at cleanup,
// timed through the functions the agent uses, with a policy the size of a
// lab of 8 slots, alone in the table and beside 31 other workers' chains.
// Prints p50/p99 of each. Needs root and nftables; removes every chain it made.
//
//   npm run bench:network-policy
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentScope } from '../src/platform/agent-scope.js';
import {
  addPolicy,
  listChains,
  policyScript,
  removePolicy,
  workerChain,
  workerOfChain,
} from '../src/platform/linux/nft-policy.js';
import type { NetworkPolicy } from '../src/platform/network-policy.js';
import { summary } from './percentiles.js';

const RUNS = 100;

// A slot of a lab of 8: its own target and console; 7 other slots' targets and consoles; one pdudaemon;
// an artifact server in network_allow.
const policy: NetworkPolicy = {
  allow: [{ address: 'fd00:1::2' }, { address: '10.1.0.1', port: 7001 }],
  shared: [{ address: '192.0.2.10', port: 8080 }],
  deny: [
    ...Array.from({ length: 7 }, (_, i) => ({ address: `fd00:${i + 2}::2` })),
    ...Array.from({ length: 7 }, (_, i) => ({ address: '10.1.0.1', port: 7002 + i })),
    { address: '127.0.0.1', port: 16421 },
  ],
  localPorts: [8421],
};

// A scope of its own (a fresh temporary path): nothing of a running agent is touched.
const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-nft-'));
const scope = agentScope(dir);
const worker = (i: number): { workerId: string; username: string; uid: number; gid: number } => ({
  workerId: `wbench${i}`,
  username: `ls-bench${i}`,
  uid: 2 ** 29 + i,
  gid: 2 ** 29 + i,
});
const rules = policyScript(workerChain(scope, 'wcount'), worker(0), policy)
  .split('\n')
  .filter((line) => line.startsWith('add rule')).length;
try {
  for (const others of [0, 31]) {
    for (let i = 0; i < others; i += 1) await addPolicy(workerChain(scope, `wother${i}`), worker(1000 + i), policy);
    const add: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const chain = workerChain(scope, `wbench${i}`);
      let start = performance.now();
      await addPolicy(chain, worker(i), policy);
      add.push(performance.now() - start);
      start = performance.now();
      await removePolicy(chain);
      remove.push(performance.now() - start);
    }
    console.log(
      `${rules} rules, ${others} other chains, ${RUNS} runs: ` +
        `${summary('add (nft -f)', add)}; ${summary('remove (nft delete chain)', remove)}`,
    );
  }
} finally {
  for (const chain of await listChains()) if (workerOfChain(scope, chain) !== undefined) await removePolicy(chain);
  rmSync(dir, { recursive: true, force: true });
}
