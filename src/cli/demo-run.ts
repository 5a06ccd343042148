// What `labslot demo` does once its arguments are parsed: build the emulated
// lab, run the agent on it until a signal, and take it all down again.
import { fileURLToPath } from 'node:url';
import { parseListen } from '../config/schema.js';
import { Demo } from '../demo/run-demo.js';
import type { DemoOptions } from './demo.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

const LABSLOT_BIN = fileURLToPath(new URL('../../bin/labslot.js', import.meta.url));

/** Resolves with the exit code once the lab is gone. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const listen = parseListen(options.listen, { allowAnyPort: true });
  if (!listen) throw new CliError(`--listen: "${options.listen}" is not host:port (e.g. 127.0.0.1:8422)`, EXIT_USAGE);
  const demo = new Demo({
    listen,
    dir: options.dir,
    script: LABSLOT_BIN,
    cwd: process.cwd(),
    write: (text) => process.stdout.write(text),
  });
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    signals += 1;
    if (signals === 1) {
      stop.abort();
      return;
    }
    const left = demo.forceStop();
    process.stderr.write(
      `labslot demo: forced: the lab's processes are killed and its namespace is deleted${left.length > 0 ? `; not cleaned up: ${left.join('; ')}` : ''}\n`,
    );
    process.exit(EXIT_FAILURE);
  };
  // SIGHUP too: closing the terminal must take the lab down, not leave it running without its agent.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    await demo.run(stop.signal);
    return EXIT_OK;
  } catch (error) {
    // A DemoError goes on to error-exit.ts; several teardown failures are one line here.
    if (error instanceof AggregateError) {
      const steps = (error.errors as unknown[]).map((e) => (e instanceof Error ? e.message : String(e)));
      throw new CliError(`${error.message}: ${steps.join('; ')}`, EXIT_FAILURE, { cause: error });
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}
