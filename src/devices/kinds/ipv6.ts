// ipv6: a network target (an SP's management address). Ping and an optional
// TCP connect, both passive. A job gets the address, scoped when link-local.
import type { DeviceSpec } from '../../config/schema.js';
import { checkIpv6, scopedAddress } from '../ipv6-check.js';
import { nothingToRecover, type DeviceKind } from './device-kind.js';

type Ipv6Spec = Extract<DeviceSpec, { kind: 'ipv6' }>;

export const ipv6Kind: DeviceKind<Ipv6Spec> = {
  describe: (spec) =>
    `ipv6 ${spec.address}${spec.interface !== undefined ? `%${spec.interface}` : ''}${spec.tcp_port !== undefined ? ` tcp/${spec.tcp_port}` : ''}`,
  passive: true,
  check: (spec, ctx) => checkIpv6(spec, ctx),
  timeoutMs: (_spec, healthTimeoutMs) => healthTimeoutMs,
  node: () => Promise.resolve({ node: null }),
  env: (spec) => scopedAddress(spec),
  placeholder: 'address',
  placeholdersIn: undefined,
  endpoints: (spec) => [{ reach: 'slot', host: spec.address, interface: spec.interface }],
  usb: () => undefined,
  humilityProbe: () => undefined,
  hardware: () => undefined,
  outlet: undefined,
  recover: nothingToRecover,
};
