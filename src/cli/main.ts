// The labslot command line: parses arguments with commander, runs one command,
// and turns every failure into a message and an exit code (0 ok, 1 failure,
// 2 usage or configuration error) — never a stack trace. Every error line,
// commander's own included, starts with "labslot: ".
//
// Job scripts call labslot often, so startup is kept to Node's own: the
// register* modules import nothing heavy (commander and small helpers), and
// each command's action imports its implementation (the agent, the config
// loader, the device checks) only when that command runs.
import { Command, CommanderError } from 'commander';
import { ConfigError, formatIssue } from '../config/config-error.js';
import { VERSION } from '../version.js';
import { registerAgent } from './agent.js';
import { registerCheck } from './check.js';
import type { CommandResult } from './command-result.js';
import { registerConfigValidate } from './config-validate.js';
import { registerDemo } from './demo.js';
import { registerJobCommands } from './job-commands.js';
import { registerSlotCommands } from './slot-commands.js';
import { registerUdevRules } from './udev-rules.js';
import { registerWorkerCommands } from './worker-commands.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

export async function main(argv: readonly string[]): Promise<number> {
  const done: CommandResult = { code: EXIT_OK };
  const program = new Command('labslot')
    .description('Lab host agent for hardware-in-the-loop CI: health-checked slots, ephemeral job workers, holds.')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeErr: (text) => process.stderr.write(text),
      writeOut: (text) => process.stdout.write(text),
      outputError: (text, write) => write(prefixLines(text)),
    });

  registerAgent(program, done);
  registerCheck(program, done);
  registerSlotCommands(program, done);
  registerJobCommands(program, done);
  registerWorkerCommands(program, done);
  registerUdevRules(program, done);
  registerDemo(program, done);
  registerConfigValidate(program.command('config').description('work with configuration files').exitOverride(), done);
  // Subcommands do not inherit exitOverride; without it commander calls process.exit itself.
  for (const command of [program, ...allCommands(program)]) {
    command.exitOverride();
    // After a usage error, where to read about this very command.
    command.showHelpAfterError(`labslot: see '${commandPath(command)} --help'`);
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return done.code;
  } catch (error) {
    return reportError(error);
  }
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** "labslot job run" */
function commandPath(command: Command): string {
  return command.parent === null ? command.name() : `${commandPath(command.parent)} ${command.name()}`;
}

/**
 * Commander's errors in labslot's voice: "error: unknown option '--jsn'" and
 * its "(Did you mean --json?)" line become "labslot: ..." lines like every
 * other error, so scripts and people look for one prefix.
 */
function prefixLines(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `labslot: ${line.replace(/^error: /, '').replace(/^\((Did you mean .*)\)$/, (_, hint: string) => hint.replace(/^D/, 'd'))}`)
    .join('\n')
    .concat('\n');
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version are "errors" to commander; its own message is already printed.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof ConfigError) {
    for (const issue of error.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    process.stderr.write(`labslot: configuration rejected (${error.issues.length} ${error.issues.length === 1 ? 'problem' : 'problems'})\n`);
    return EXIT_USAGE;
  }
  if (error instanceof CliError) {
    process.stderr.write(`labslot: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`labslot: unexpected error: ${message}\n`);
  if (process.env['LABSLOT_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT_FAILURE;
}
