// power: one PDU outlet, through pdudaemon or a status/on/off command. Its
// check never switches the outlet. A job gets a description of it (it
// switches its own outlets through `labslot worker power`), no node.
import type { DeviceSpec } from '../../config/schema.js';
import { checkPower } from '../power-check.js';
import { switchPower } from '../power-control.js';
import { urlPort } from '../url-port.js';
import { nothingToRecover, type DeviceEndpoint, type DeviceKind } from './device-kind.js';

type PowerSpec = Extract<DeviceSpec, { kind: 'power' }>;

export const powerKind: DeviceKind<PowerSpec> = {
  describe: (spec) =>
    spec.driver === 'pdudaemon'
      ? `power pdudaemon ${spec.pdu} port ${spec.port}`
      : `power command ${spec.status.join(' ')}`,
  passive: true,
  check: (spec, ctx) => checkPower(spec, ctx),
  timeoutMs: (_spec, healthTimeoutMs) => healthTimeoutMs,
  node: () => Promise.resolve({ node: null }),
  env: (spec) => powerKind.describe(spec),
  placeholder: undefined,
  placeholdersIn: undefined,
  // pdudaemon switches any outlet for anyone who reaches it: no job may. A command driver has no address here.
  endpoints: (spec) => (spec.driver === 'pdudaemon' ? [pdudaemonEndpoint(spec.url)] : []),
  usb: () => undefined,
  humilityProbe: () => undefined,
  hardware: (raw) => {
    if (raw['driver'] !== 'pdudaemon' || typeof raw['pdu'] !== 'string' || typeof raw['port'] !== 'number')
      return undefined;
    const url = typeof raw['url'] === 'string' ? raw['url'] : '';
    return { key: `pdu ${url} ${raw['pdu']} ${raw['port']}`, what: `outlet ${raw['pdu']} port ${raw['port']}`, at: [] };
  },
  // The drivers the health checks use; pdudaemon's 200 only means "accepted", the outlet log or the board tells more.
  outlet: (spec, action, signal) => switchPower(spec, action, signal),
  recover: nothingToRecover,
};

/** pdudaemon's address and port from its URL, brackets off an IPv6 literal; the scheme's port when the URL has none. */
function pdudaemonEndpoint(url: string): DeviceEndpoint {
  const parsed = new URL(url);
  return { reach: 'none', host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: urlPort(parsed) };
}
