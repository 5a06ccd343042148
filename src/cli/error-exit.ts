// How a command's failure ends, in one place: one line on stderr (never a
// stack trace) and the exit code of README's "Exit codes" (1 failure, 2 usage
// or configuration). The agent's refusals arrive as CliErrors (AgentError)
// with the exit code of their JSON error code (api/error-codes.ts).
import { CommanderError } from 'commander';
import { ConfigError, formatIssue } from '../config/config-error.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

/**
 * The agent's own errors a command can end with, told by class name: this
 * module is loaded by every command, and importing the classes would load the
 * agent, the database and the HTTP server for `labslot job status` too.
 * test/error-map.test.ts checks that each name is a class in src/.
 */
export const EXIT_BY_ERROR_NAME: Readonly<Record<string, (error: Error) => number>> = {
  // What an operator can act on at `labslot agent` start (a port in use, a database it cannot open, a second agent).
  ListenError: () => EXIT_FAILURE,
  DatabaseError: () => EXIT_FAILURE,
  StateDirLockedError: () => EXIT_FAILURE,
  // Joining a lab: a slot or host name another host has, a password file that cannot be used: the config's to fix.
  LabMembershipError: () => EXIT_USAGE,
  LabDatabaseError: () => EXIT_USAGE,
  // A PEM file of [agent] tls or [lab] ca, or --cacert, that cannot be used: the configuration or command line is wrong.
  TlsFileError: () => EXIT_USAGE,
  // `labslot demo`: a prerequisite the user must fix first is a usage error; a lab that did not come up, a failure.
  DemoError: (error) => ((error as Error & { kind?: unknown }).kind === 'prerequisite' ? EXIT_USAGE : EXIT_FAILURE),
};

/** Prints why the command failed and returns its exit code. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version are "errors" to commander; its own message is already printed.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof ConfigError) {
    for (const issue of error.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    process.stderr.write(
      `labslot: configuration rejected (${error.issues.length} ${error.issues.length === 1 ? 'problem' : 'problems'})\n`,
    );
    return EXIT_USAGE;
  }
  if (error instanceof CliError) {
    process.stderr.write(`labslot: ${error.message}\n`);
    return error.exitCode;
  }
  const byName =
    error instanceof Error && Object.hasOwn(EXIT_BY_ERROR_NAME, error.name)
      ? EXIT_BY_ERROR_NAME[error.name]
      : undefined;
  if (error instanceof Error && byName !== undefined) {
    process.stderr.write(`labslot: ${error.message}\n`);
    return byName(error);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`labslot: unexpected error: ${message}\n`);
  if (process.env['LABSLOT_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT_FAILURE;
}
