// `labslot agent [-c FILE]`: run the agent until SIGTERM or SIGINT (agent-run.ts,
// loaded only when this command runs: it is the whole agent).
import type { Command } from 'commander';
import type { CommandResult } from './command-result.js';
import { addConfigOption, type LoadOptions } from './config-options.js';

export function registerAgent(program: Command, done: CommandResult): void {
  addConfigOption(program.command('agent').description('run the lab host agent'))
    .option('--state-dir <dir>', 'override [agent] state_dir')
    .option('--listen <host:port>', 'override [agent] listen')
    .action(async (options: LoadOptions) => {
      const { runAgent } = await import('./agent-run.js');
      done.code = await runAgent(options);
    });
}
