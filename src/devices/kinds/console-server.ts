// console-server: a serial console reached over TCP (ser2net, Opengear, Digi,
// Lantronix). Checks as a serial console does, over a connection; a job gets
// host:port to connect to, and no node (the network is its path to it).
import type { DeviceSpec } from '../../config/schema.js';
import { checkConsoleServer, consoleEndpoint } from '../console-server-check.js';
import { nothingToRecover, type DeviceKind } from './device-kind.js';

type ConsoleServerSpec = Extract<DeviceSpec, { kind: 'console-server' }>;

export const consoleServerKind: DeviceKind<ConsoleServerSpec> = {
  describe: (spec) => `console-server ${consoleEndpoint(spec)}`,
  passive: true,
  check: (spec, ctx) => checkConsoleServer(spec, ctx),
  // As for a local console, an active probe waits for its answer on top of connecting.
  timeoutMs: (spec, healthTimeoutMs) => (spec.probe ? healthTimeoutMs + spec.probe.timeout : healthTimeoutMs),
  node: () => Promise.resolve({ node: null }),
  env: (spec) => consoleEndpoint(spec),
  placeholder: undefined,
  placeholdersIn: undefined,
  endpoints: (spec) => [{ reach: 'slot', host: spec.host, port: spec.port }],
  usb: () => undefined,
  humilityProbe: () => undefined,
  hardware: (raw) =>
    typeof raw['host'] === 'string' && typeof raw['port'] === 'number'
      ? {
          key: `console-server ${raw['host'].toLowerCase()} ${raw['port']}`,
          what: `console ${consoleEndpoint({ host: raw['host'], port: raw['port'] })}`,
          at: [],
        }
      : undefined,
  outlet: undefined,
  recover: nothingToRecover,
};
