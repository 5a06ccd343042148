// The chains in nftables' labslot table, read the way an operator would
// (`nft -j list chains inet`), for leak checks and network-policy tests.
import { spawnSync } from 'node:child_process';
import { agentScope } from '../../src/platform/agent-scope.js';
import { chainsInListing, NFT_TABLE, workerOfChain } from '../../src/platform/linux/nft-policy.js';

/** Every chain of the labslot table; none on a host without nft. */
export function labslotChains(): string[] {
  const result = spawnSync('nft', ['-j', 'list', 'chains', 'inet'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) return [];
  return chainsInListing(result.stdout);
}

/** The chains of one agent (by its state directory's scope). */
export function chainsOfAgent(stateDir: string): string[] {
  const scope = agentScope(stateDir);
  return labslotChains().filter((chain) => workerOfChain(scope, chain) !== undefined);
}

/** The rules of one chain as `nft list chain` prints them, for messages and assertions. */
export function chainRules(chain: string): string {
  const result = spawnSync('nft', ['list', 'chain', 'inet', NFT_TABLE, chain], { encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 ? result.stdout : `(no chain ${chain}: ${result.stderr.trim()})`;
}
