// The labslot command line: parses arguments with commander, runs one command,
// and turns every failure into a message and an exit code (0 ok, 1 failure,
// 2 usage or configuration error) — never a stack trace. Every error line,
// commander's own included, starts with "labslot: ".
//
// Job scripts call labslot often, so startup is kept close to Node's own:
// only the named command's group is registered (all of them for help or an
// unknown command), the register* modules import nothing heavy (commander and
// small helpers), and each command's action imports its implementation (the
// agent, the config loader, the device checks) only when that command runs.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import type { CommandResult } from './command-result.js';
import { reportError } from './error-exit.js';
import { EXIT_OK } from './exit-codes.js';

type Register = (program: Command, done: CommandResult) => void;

/** The top-level commands, in the order `labslot --help` lists them, each group's registration loaded on demand. */
const GROUPS: readonly { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['agent'], load: async () => (await import('./agent.js')).registerAgent },
  { names: ['check'], load: async () => (await import('./check.js')).registerCheck },
  { names: ['slots', 'slot'], load: async () => (await import('./slot-commands.js')).registerSlotCommands },
  { names: ['job'], load: async () => (await import('./job-commands.js')).registerJobCommands },
  { names: ['worker'], load: async () => (await import('./worker-commands.js')).registerWorkerCommands },
  { names: ['power'], load: async () => (await import('./power-commands.js')).registerPowerCommands },
  { names: ['hosts'], load: async () => (await import('./host-commands.js')).registerHostCommands },
  { names: ['udev-rules'], load: async () => (await import('./udev-rules.js')).registerUdevRules },
  { names: ['discover'], load: async () => (await import('./discover.js')).registerDiscover },
  { names: ['demo'], load: async () => (await import('./demo.js')).registerDemo },
  {
    names: ['config'],
    load: async () => {
      const { registerConfigValidate } = await import('./config-validate.js');
      return (program, done) =>
        registerConfigValidate(program.command('config').description('work with configuration files'), done);
    },
  },
];

/** The groups a command line needs: the one it names; none for --version alone; all for help, an unknown command or none. */
function groupsFor(argv: readonly string[]): (typeof GROUPS)[number][] {
  // There are no options before the command, so its name is the first word that is not one.
  const name = argv.find((arg) => !arg.startsWith('-'));
  if (name === undefined && argv.length > 0 && argv.every((arg) => arg === '-V' || arg === '--version')) return [];
  const named = GROUPS.filter((group) => name !== undefined && group.names.includes(name));
  return named.length > 0 ? named : [...GROUPS];
}

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

  for (const register of await Promise.all(groupsFor(argv).map((group) => group.load()))) register(program, done);
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
    .map(
      (line) =>
        `labslot: ${line.replace(/^error: /, '').replace(/^\((Did you mean .*)\)$/, (_, hint: string) => hint.replace(/^D/, 'd'))}`,
    )
    .join('\n')
    .concat('\n');
}
