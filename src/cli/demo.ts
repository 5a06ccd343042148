// `labslot demo [--listen HOST:PORT] [--dir DIR]`: an emulated lab on this
// machine with the agent running on it, until SIGINT, SIGTERM or SIGHUP
// (demo-run.ts, loaded only when this command runs). The first signal tears it
// all down in order; a second one kills the lab's processes and deletes its
// namespace at once.
import type { Command } from 'commander';
import type { CommandResult } from './command-result.js';

export interface DemoOptions {
  listen: string;
  dir?: string;
}

export function registerDemo(program: Command, done: CommandResult): void {
  program
    .command('demo')
    .description('run the agent on an emulated lab on this machine (needs root); Ctrl-C removes it all')
    .option(
      '--listen <host:port>',
      'address of the agent (8422, so it can run next to npm start on 8421)',
      '127.0.0.1:8422',
    )
    .option('--dir <dir>', 'build the lab in DIR and keep DIR at exit (default: a temporary directory, removed)')
    .action(async (options: DemoOptions) => {
      const { runDemo } = await import('./demo-run.js');
      done.code = await runDemo(options);
    });
}
