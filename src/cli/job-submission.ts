// The options `job run` and `job submit` share, checked once here and turned
// into the body of POST /v1/jobs. Mistakes are usage errors (exit 2) before
// anything is sent: a CI pipeline with a typo should fail at once, not after
// waiting in the queue for a slot. Registering the options loads nothing
// heavy; the agent's --env rules (a zod schema) load only when --env is given.
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import type { HumilityArchive } from '../config/humility-archive.js';
import { parseArchiveOptions } from './archive-option.js';
import { CliError, EXIT_USAGE } from './exit-codes.js';

/** What commander hands over, unchecked. */
export interface RawSubmissionOptions {
  target?: string;
  slot?: string;
  allowHeld?: boolean;
  timeout?: string;
  priority?: string;
  env?: string[];
  script?: string;
  input?: string;
  archive?: string[];
}

/** The body of POST /v1/jobs. */
export interface JobSubmission {
  /** Implied by `slot` when left out. */
  target?: string;
  /** This slot only. */
  slot?: string;
  /** Operator tokens: run on `slot` although it is held. */
  allow_held?: boolean;
  argv?: string[];
  script?: string;
  env?: Record<string, string>;
  /** Sent as the user wrote it ("90s"); the agent caps it at its own [jobs] timeout. */
  timeout?: string;
  priority?: number;
  /** An input archive follows (PUT /v1/jobs/:id/input). */
  input?: boolean;
  /** Hubris archives in the input for HUMILITY_ENVIRONMENT, by probe entry ("sp", "rot"). */
  archives?: Record<string, HumilityArchive>;
}

const PRIORITY_LIMIT = 1000;

export function addSubmissionOptions(command: Command): Command {
  return (
    command
      .option('--target <target>', "the kind of testbed to run on (a slot's target); implied by --slot")
      .option('--slot <name>', 'run on this slot only (it waits while the slot is busy or unhealthy)')
      .option('--allow-held', 'with --slot and an operator token: run on the slot although it is held, to debug it')
      .option(
        '--timeout <duration>',
        "stop the job after this long, e.g. 90s, 10m, 1h30m (default: the agent's [jobs] timeout)",
      )
      .option('--input <dir>', 'send this directory along; the job sees it read-only at /input')
      .option(
        '--archive <probe=path>',
        "a Hubris archive in --input for the probe's HUMILITY_ENVIRONMENT entry, e.g. sp=build/sp.zip, or PROBE.NAME=PATH for named ones (repeatable)",
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      )
      .option('--priority <n>', `higher runs first, from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT} (default 0)`)
      // No default array: commander would print "(default: [])" in the help.
      .option(
        '--env <name=value>',
        "set a variable in the job's environment (repeatable)",
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      )
  );
}

/** Checks the shared options and builds the request; `argv` empty means "no command given". */
export async function compileSubmission(raw: RawSubmissionOptions, argv: readonly string[]): Promise<JobSubmission> {
  const submission: JobSubmission = {};
  if (raw.target === undefined && raw.slot === undefined)
    throw new CliError('give --target TARGET (any slot of it) or --slot NAME (that slot only)', EXIT_USAGE);
  if (raw.target !== undefined) {
    if (raw.target.trim() === '')
      throw new CliError('--target: name the kind of testbed, e.g. --target gimlet', EXIT_USAGE);
    submission.target = raw.target;
  }
  if (raw.slot !== undefined) {
    if (raw.slot.trim() === '') throw new CliError('--slot: name the slot, e.g. --slot gimlet-1', EXIT_USAGE);
    submission.slot = raw.slot;
  }
  if (raw.allowHeld === true) {
    if (raw.slot === undefined)
      throw new CliError('--allow-held needs --slot NAME: the held slot to run on', EXIT_USAGE);
    submission.allow_held = true;
  }

  if (raw.script !== undefined && argv.length > 0)
    throw new CliError('give either --script FILE or -- CMD [ARG]..., not both', EXIT_USAGE);
  if (raw.script !== undefined) submission.script = readScript(raw.script);
  else if (argv.length > 0) {
    if (argv[0] === '')
      throw new CliError('the command is empty: put the program after --, e.g. -- make test', EXIT_USAGE);
    submission.argv = [...argv];
  } else throw new CliError('nothing to run: give -- CMD [ARG]... or --script FILE', EXIT_USAGE);

  if (raw.env !== undefined) submission.env = await parseEnv(raw.env);
  if (raw.timeout !== undefined) submission.timeout = checkTimeout(raw.timeout);
  if (raw.priority !== undefined) submission.priority = parsePriority(raw.priority);
  if (raw.input !== undefined) {
    checkInputDir(raw.input);
    submission.input = true;
  }
  if (raw.archive !== undefined) submission.archives = parseArchiveOptions(raw.archive, raw.input);
  return submission;
}

function checkInputDir(dir: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // Reported below.
  }
  if (!isDir) throw new CliError(`--input: ${dir} is not a directory`, EXIT_USAGE);
}

/** NAME=VALUE pairs; the value may be empty or contain "=", and a later --env for a name wins (as with docker run). */
export async function parseEnv(pairs: readonly string[]): Promise<Record<string, string>> {
  const { ENV_NAME_SYNTAX, envName } = await import('../config/env-names.js');
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals < 0) throw new CliError(`--env "${pair}": expected NAME=VALUE, e.g. --env BOARD_REV=b`, EXIT_USAGE);
    const name = pair.slice(0, equals);
    if (!ENV_NAME_SYNTAX.test(name)) {
      throw new CliError(
        `--env "${pair}": "${name}" is not an environment variable name (letters, digits and _, not starting with a digit)`,
        EXIT_USAGE,
      );
    }
    // The agent's own rule, here too, so a name it would refuse (PATH, LD_PRELOAD, LABSLOT_*) never leaves this host.
    const allowed = envName.safeParse(name);
    if (!allowed.success)
      throw new CliError(`--env "${pair}": "${name}" ${allowed.error.issues[0]?.message ?? 'is refused'}`, EXIT_USAGE);
    env[name] = pair.slice(equals + 1);
  }
  return env;
}

function checkTimeout(text: string): string {
  const ms = parseDuration(text);
  if (ms === undefined) throw new CliError(`--timeout "${text}" is not a duration (e.g. 90s, 10m, 1h30m)`, EXIT_USAGE);
  if (ms <= 0) throw new CliError(`--timeout "${text}": a job needs more than no time at all`, EXIT_USAGE);
  return text;
}

function parsePriority(text: string): number {
  const value = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || Math.abs(value) > PRIORITY_LIMIT) {
    throw new CliError(
      `--priority "${text}": expected a whole number from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}`,
      EXIT_USAGE,
    );
  }
  return value;
}

function readScript(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (error as Error).message;
    throw new CliError(`--script ${file}: cannot read it (${why})`, EXIT_USAGE);
  }
  if (text.trim() === '') throw new CliError(`--script ${file} is empty`, EXIT_USAGE);
  return text;
}
