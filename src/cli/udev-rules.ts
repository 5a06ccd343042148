// `labslot udev-rules [-c FILE]`: prints udev rules for exactly the configured
// probes and console adapters (root-only, with /dev/labslot/<device> links).
// A config it cannot express in udev exits 2, like any bad config.
import type { Command } from 'commander';
import type { CommandResult } from './command-result.js';
import { addConfigOption } from './config-options.js';
import { EXIT_OK } from './exit-codes.js';

export function registerUdevRules(program: Command, done: CommandResult): void {
  addConfigOption(
    program
      .command('udev-rules')
      .description('print udev rules for the configured USB devices (root-only, /dev/labslot/<device> links)'),
  ).action(async (options: { config?: string }) => {
    const [{ udevRules }, { loadLab }] = await Promise.all([
      import('../devices/udev-rules.js'),
      import('./load-lab.js'),
    ]);
    process.stdout.write(udevRules(loadLab(options)));
    done.code = EXIT_OK;
  });
}
