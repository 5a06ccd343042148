// `labslot check [-c FILE] [--slot NAME] [--json]`: every check once, without
// an agent (check-run.ts, loaded only when this command runs). Exit 0 when
// everything is healthy, 1 when anything is not.
import type { Command } from 'commander';
import type { CommandResult } from './command-result.js';
import { addConfigOption } from './config-options.js';

export interface CheckOptions {
  config?: string;
  stateDir?: string;
  slot?: string;
  json?: boolean;
}

export function registerCheck(program: Command, done: CommandResult): void {
  addConfigOption(program.command('check').description('check every device once (no agent needed)'))
    .option('--slot <name>', 'only the devices of this slot')
    .option('--state-dir <dir>', "the agent's state directory, when it runs with --state-dir (to see its leases)")
    .option('--json', 'print JSON instead of a table')
    .action(async (options: CheckOptions) => {
      const { checkOnce } = await import('./check-run.js');
      done.code = await checkOnce(options);
    });
}
