// What one worker's job may reach on the network (DESIGN §8), as the jobs
// layer works it out from the lab (jobs/network-policy.ts) and a platform
// enforces it on packets of the worker's uid (linux/nft-policy.ts). Only
// literals reach the platform: host names are resolved before.
import type { NetworkAddress } from '../config/network-address.js';

/** One address or block; a port narrows it to TCP and UDP to that port, an interface to one link. */
export interface NetworkRule extends NetworkAddress {
  interface?: string | undefined;
}

export interface NetworkPolicy {
  /** Reachable whatever `deny` says: the slot's own targets and consoles. */
  allow: NetworkRule[];
  /** Refused: other slots' targets and consoles, power controllers. */
  deny: NetworkRule[];
  /**
   * `[jobs] network_allow`: reachable unless `deny` refuses it. It comes after the denials so that an
   * operator's broad entry (a block holding the host's own address, a resolver on loopback) can never
   * reopen pdudaemon or another slot's console.
   */
  shared: NetworkRule[];
  /** The only local TCP ports (loopback and the host's own addresses) the job reaches: the agent's. */
  localPorts: number[];
}

/** This host cannot enforce a network policy; the agent refuses `[jobs] network = "slot"` and says what to do. */
export class NetworkPolicyUnavailableError extends Error {
  override readonly name = 'NetworkPolicyUnavailableError';
}

/** Adding or removing a worker's rules failed (nft's own words in the message). */
export class NetworkPolicyError extends Error {
  override readonly name = 'NetworkPolicyError';
}
