// `labslot discover [--toml] [--json] [-c FILE]`: the debug probes and serial
// adapters plugged into this host, which configured device each one is, the
// configured ones that are absent, and (--toml) stanzas for the rest. The work
// is discover-run.ts, loaded only when this command runs.
import { Option, type Command } from 'commander';
import type { CommandResult } from './command-result.js';
import { addConfigOption } from './config-options.js';

export interface DiscoverOptions {
  config?: string;
  json?: boolean;
  toml?: boolean;
}

export function registerDiscover(program: Command, done: CommandResult): void {
  addConfigOption(
    program
      .command('discover')
      .description('list the debug probes and serial adapters plugged in, and which configured device each is'),
  )
    .addOption(new Option('--json', 'print JSON: {devices, absent}').conflicts('toml'))
    .addOption(new Option('--toml', 'print [devices.NAME] stanzas for the unconfigured ones').conflicts('json'))
    .action(async (options: DiscoverOptions) => {
      const { discoverOnce } = await import('./discover-run.js');
      done.code = discoverOnce(options);
    });
}
