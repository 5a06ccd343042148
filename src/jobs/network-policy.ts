// What a job on one slot may reach (DESIGN §8), worked out from the lab: the
// devices' network endpoints (each kind says its own, kinds/*.ts endpoints())
// become allow rules for the slot's own devices and deny rules for every other
// device and every power controller; `[jobs] network_allow` is allowed to all
// jobs; the agent's own port is the one local port open. The platform turns
// it into packet-filter rules on the worker's uid.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { within } from '../within.js';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { DeviceEndpoint } from '../devices/kinds/device-kind.js';
import { kindOf } from '../devices/kinds/registry.js';
import { urlPort } from '../devices/url-port.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import { NetworkPolicyError, type NetworkPolicy, type NetworkRule } from '../platform/network-policy.js';

/** Host name → its addresses. A name that does not resolve gives none (and a warning). */
export type ResolveHost = (host: string) => Promise<string[]>;

const RESOLVE_TIMEOUT_MS = 5_000;

export const resolveHost: ResolveHost = async (host) => {
  const found = await within(lookup(host, { all: true }), RESOLVE_TIMEOUT_MS, undefined);
  if (found === undefined) throw new Error(`no answer within ${RESOLVE_TIMEOUT_MS / 1000} s`);
  return found.map((a) => a.address);
};

/** The port of the agent's URL as the job has it (`$LABSLOT_URL`), the scheme's when the URL names none. */
export function agentPort(agentUrl: string): number {
  return urlPort(new URL(agentUrl));
}

export async function networkPolicyFor(
  lab: LabModel,
  slot: SlotModel,
  agentPort: number,
  log: Logger,
  resolve: ResolveHost = resolveHost,
): Promise<NetworkPolicy> {
  const own = new Set(slot.devices);
  const allow: NetworkRule[] = [];
  const deny: NetworkRule[] = [];
  for (const device of lab.devices.values()) {
    for (const endpoint of kindOf(device.spec).endpoints(device.spec)) {
      const mine = endpoint.reach === 'slot' && own.has(device.name);
      const rules = await rulesOf(endpoint, resolve).catch((error: unknown) => {
        // A name the job must not reach fails closed: the job could resolve it a moment later and get through.
        if (!mine)
          throw new NetworkPolicyError(
            `${device.name}: its host ${endpoint.host} did not resolve, so jobs cannot be kept from it: ${coerceError(error).message}`,
          );
        // The slot's own device: the job cannot resolve it either; a lab must know, but nothing is opened.
        log.warn(
          { device: device.name, host: endpoint.host, err: coerceError(error) },
          'device host name did not resolve; no rule for it',
        );
        return [];
      });
      (mine ? allow : deny).push(...rules);
    }
  }
  return { allow, deny, shared: [...lab.config.jobs.network_allow], localPorts: [agentPort] };
}

async function rulesOf(endpoint: DeviceEndpoint, resolve: ResolveHost): Promise<NetworkRule[]> {
  const addresses = isIP(endpoint.host) !== 0 ? [endpoint.host] : await resolve(endpoint.host);
  if (addresses.length === 0) throw new Error('no address');
  return addresses.map((address) => ({ address, port: endpoint.port, interface: endpoint.interface }));
}

/** The same rules, in whatever order (a resolver may list a name's addresses in another order each time). */
export function samePolicy(a: NetworkPolicy, b: NetworkPolicy): boolean {
  const key = (policy: NetworkPolicy): string =>
    JSON.stringify([
      ...(['allow', 'deny', 'shared'] as const).map((list) => policy[list].map((rule) => JSON.stringify(rule)).sort()),
      [...policy.localPorts].sort((x, y) => x - y),
    ]);
  return key(a) === key(b);
}
