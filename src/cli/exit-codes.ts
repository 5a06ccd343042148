// Exit codes of every labslot command (DESIGN §4).
export const EXIT_OK = 0;
/** The command ran and the answer is "no": a device is unhealthy, a job failed. */
export const EXIT_FAILURE = 1;
/** The command could not run as asked: bad arguments or configuration. */
export const EXIT_USAGE = 2;

/** An error the CLI reports as one line on stderr, without a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
