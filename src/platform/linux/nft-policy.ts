// A worker's network policy as nftables rules (DESIGN §8). All of labslot's
// rules live in one table, `inet labslot`, which no agent ever flushes or
// deletes: each worker gets a base chain of its own on the output hook, named
// `ls_<agent scope>_<worker id>`, whose every rule matches the worker's uid.
// Adding is one `nft -f` transaction (all rules or none), removing is one
// `delete chain`, and an agent's orphan sweep takes only chains carrying its
// own scope, so two agents on one host never touch each other's rules.
//
// Local traffic (loopback, the host's own addresses) leaves through "lo".
// Refused TCP gets a reset, so connect() fails at once ("Connection refused")
// instead of retrying a dropped SYN until it times out; any other refused
// packet is dropped on its way out, which fails the sender's call at once with
// EPERM ("Operation not permitted": ping says so).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastLines, runProcess, type RunResult } from '../run-process.js';
import type { WorkerAccount } from '../platform.js';
import {
  NetworkPolicyError,
  NetworkPolicyUnavailableError,
  type NetworkPolicy,
  type NetworkRule,
} from '../network-policy.js';

export const NFT_TABLE = 'labslot';
const CHAIN_PREFIX = 'ls_';
const NFT_TIMEOUT_MS = 10_000;
/** nft reads names as identifiers: letters, digits and underscores only, as chain names are made here. */
const CHAIN_NAME = /^ls_[a-z0-9]+_[a-z0-9]+$/;
const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** The chain of one worker of one agent. */
export function workerChain(scope: string, workerId: string): string {
  const name = `${CHAIN_PREFIX}${scope}_${workerId}`;
  if (!CHAIN_NAME.test(name)) throw new NetworkPolicyError(`"${name}" cannot name an nftables chain`);
  return name;
}

/** The worker id of a chain of this agent's scope, or undefined for anyone else's. */
export function workerOfChain(scope: string, chain: string): string | undefined {
  const prefix = `${CHAIN_PREFIX}${scope}_`;
  return chain.startsWith(prefix) && CHAIN_NAME.test(chain) ? chain.slice(prefix.length) : undefined;
}

/** The `nft -f` transaction that makes a worker's chain and rules. Throws on anything that is not a literal. */
export function policyScript(chain: string, worker: WorkerAccount, policy: NetworkPolicy): string {
  if (!CHAIN_NAME.test(chain)) throw new NetworkPolicyError(`"${chain}" cannot name an nftables chain`);
  if (!Number.isInteger(worker.uid) || worker.uid <= 0)
    throw new NetworkPolicyError(`worker ${worker.workerId} has no uid to filter (${worker.uid})`);
  const uid = `meta skuid ${worker.uid}`;
  const rule = (body: string): string => `add rule inet ${NFT_TABLE} ${chain} ${uid} ${body}`;
  return [
    `add table inet ${NFT_TABLE}`,
    `add chain inet ${NFT_TABLE} ${chain} { type filter hook output priority 0; policy accept; comment "labslot worker ${worker.workerId} (${worker.username})"; }`,
    // Allowed first: the slot's own targets and consoles (a console on loopback too), and the agent.
    ...policy.allow.map((r) => rule(`${match(r)} accept`)),
    ...policy.localPorts.map((port) => rule(`oifname "lo" tcp dport ${portNumber(port)} accept`)),
    ...policy.deny.flatMap((r) => refuse(rule, match(r))),
    // A service on loopback usually listens on every local address too (pdudaemon on 0.0.0.0): its port is
    // closed on all of them (they all leave through lo), so no other local address reaches it.
    ...policy.deny.filter(isLoopbackPort).flatMap((r) => refuse(rule, `oifname "lo" ${portMatch(r.port)}`)),
    // network_allow after the denials: it may open a local port (a resolver) or a block, never a denied endpoint.
    ...policy.shared.map((r) => rule(`${match(r)} accept`)),
    ...refuse(rule, 'oifname "lo"'),
    '',
  ].join('\n');
}

/** A TCP connection is reset (refused at once); anything else is dropped, failing the sender's call with EPERM. */
function refuse(rule: (body: string) => string, what: string): string[] {
  return [rule(`${what} meta l4proto tcp reject with tcp reset`), rule(`${what} drop`)];
}

function match(r: NetworkRule): string {
  const family = isIP(r.address);
  if (family === 0) throw new NetworkPolicyError(`"${r.address}" is not an IP address`);
  if (r.prefix !== undefined && (!Number.isInteger(r.prefix) || r.prefix < 0 || r.prefix > (family === 4 ? 32 : 128)))
    throw new NetworkPolicyError(`"/${r.prefix}" is not a prefix of ${r.address}`);
  if (r.interface !== undefined && !INTERFACE_NAME.test(r.interface))
    throw new NetworkPolicyError(`"${r.interface}" is not an interface name nftables can match`);
  return [
    r.interface !== undefined ? `oifname "${r.interface}"` : '',
    `${family === 4 ? 'ip' : 'ip6'} daddr ${r.address}${r.prefix !== undefined ? `/${r.prefix}` : ''}`,
    r.port !== undefined ? portMatch(r.port) : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
}

function portMatch(port: number | undefined): string {
  if (port === undefined) throw new NetworkPolicyError('a port-less rule has no port to match');
  return `meta l4proto { tcp, udp } th dport ${portNumber(port)}`;
}

/** A denied service on a loopback address, with its port. */
function isLoopbackPort(r: NetworkRule): boolean {
  return r.port !== undefined && (r.address === '::1' || (isIP(r.address) === 4 && r.address.startsWith('127.')));
}

function portNumber(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new NetworkPolicyError(`${port} is not a port`);
  return port;
}

/** Runs nft with an argv (never a shell); its output in full for JSON listings. */
function nft(args: readonly string[], signal?: AbortSignal): Promise<RunResult> {
  return runProcess(['nft', ...args], { timeoutMs: NFT_TIMEOUT_MS, signal, keepBytes: 4 << 20 });
}

function failure(what: string, result: RunResult): string {
  if (result.spawnError) return `${what}: cannot run nft: ${result.spawnError.message}`;
  if (result.timedOut) return `${what}: nft did not answer within ${NFT_TIMEOUT_MS / 1000} s`;
  return `${what}: nft exited ${result.code ?? result.signal}: ${lastLines(result.output, 3)}`;
}

const GONE = /No such file or directory/;

/** Whether this host can filter workers' traffic: nft runs and may change the ruleset (it makes the shared table). */
export async function checkNft(signal?: AbortSignal): Promise<void> {
  const result = await nft(['add', 'table', 'inet', NFT_TABLE], signal);
  if (result.code === 0) return;
  throw new NetworkPolicyUnavailableError(
    `${failure('[jobs] network = "slot" needs nftables to keep each job to its own slot', result)}. ` +
      'Install nftables (Debian: apt-get install nftables) and give the agent CAP_NET_ADMIN, ' +
      'or set [jobs] network = "host" to run jobs with the host\'s network unfiltered',
  );
}

export async function addPolicy(
  chain: string,
  worker: WorkerAccount,
  policy: NetworkPolicy,
  signal?: AbortSignal,
): Promise<void> {
  const script = policyScript(chain, worker, policy);
  const dir = await mkdtemp(join(tmpdir(), 'labslot-nft-'));
  try {
    const file = join(dir, `${chain}.nft`);
    await writeFile(file, script, { mode: 0o600 });
    const result = await nft(['-f', file], signal);
    if (result.code !== 0) throw new NetworkPolicyError(failure(`adding the network policy ${chain}`, result));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Deletes a worker's chain with its rules; a chain (or table) already gone is fine. */
export async function removePolicy(chain: string, signal?: AbortSignal): Promise<void> {
  if (!CHAIN_NAME.test(chain)) throw new NetworkPolicyError(`"${chain}" cannot name an nftables chain`);
  const result = await nft(['delete', 'chain', 'inet', NFT_TABLE, chain], signal);
  // No nft any more (nftables removed with network = "host"): there is no ruleset to hold the chain either.
  if (result.spawnError?.code === 'ENOENT') return;
  if (result.code !== 0 && !GONE.test(result.output))
    throw new NetworkPolicyError(failure(`removing the network policy ${chain}`, result));
}

/** Names of the chains in the labslot table from `nft -j list chains` output. */
export function chainsInListing(json: string): string[] {
  const parsed = JSON.parse(json) as { nftables?: { chain?: { family?: string; table?: string; name?: string } }[] };
  return (parsed.nftables ?? []).flatMap((entry) =>
    entry.chain?.family === 'inet' && entry.chain.table === NFT_TABLE && typeof entry.chain.name === 'string'
      ? [entry.chain.name]
      : [],
  );
}

/** Chains in the labslot table; none when nft is missing (a host that never had a policy has none to sweep). */
export async function listChains(signal?: AbortSignal): Promise<string[]> {
  const result = await nft(['-j', 'list', 'chains', 'inet'], signal);
  if (result.spawnError?.code === 'ENOENT') return [];
  if (result.code !== 0) throw new NetworkPolicyError(failure('listing nftables chains', result));
  return chainsInListing(result.output);
}
