// command: any check a script can do (`humility probe`). It talks to the
// hardware, so it is active only: a passive sweep (a leased slot) skips it.
// Nothing to grant and no job variable.
import type { DeviceSpec } from '../../config/schema.js';
import { checkCommand } from '../command-check.js';
import { nothingToRecover, type DeviceKind } from './device-kind.js';

type CommandSpec = Extract<DeviceSpec, { kind: 'command' }>;

export const commandKind: DeviceKind<CommandSpec> = {
  describe: (spec) => `command ${spec.argv.join(' ')}`,
  passive: false,
  check: (spec, ctx) => checkCommand(spec, ctx, ctx.placeholders),
  timeoutMs: (spec, healthTimeoutMs) => spec.timeout ?? healthTimeoutMs,
  node: () => Promise.resolve({ node: null }),
  env: () => undefined,
  placeholder: undefined,
  placeholdersIn: 'argv',
  endpoints: () => [],
  usb: () => undefined,
  humilityProbe: () => undefined,
  hardware: () => undefined,
  outlet: undefined,
  recover: nothingToRecover,
};
