// What `labslot agent` does once its arguments are parsed: run the agent until
// SIGTERM or SIGINT. The first signal stops gracefully; a second one exits at once.
import { Agent } from '../agent.js';
import { coerceError } from '../errors.js';
import { createLogger } from '../log.js';
import type { LoadOptions } from './config-options.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import { loadLab } from './load-lab.js';

/** A stop that takes longer than this is abandoned and the process exits anyway. */
const STOP_WATCHDOG_MS = 60_000;

/**
 * Resolves with the exit code once the agent has stopped. A start it cannot
 * make (ListenError, DatabaseError, StateDirLockedError) is one line and exit 1 (error-exit.ts).
 */
export async function runAgent(options: LoadOptions): Promise<number> {
  // Loaded before anything binds: a bad config exits 2 and touches nothing.
  const lab = loadLab(options);
  const log = createLogger();
  const agent = new Agent({ lab, log });

  let signals = 0;
  let resolveStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  const stop = (reason: string, code: number): void => {
    // Running jobs get their stop_grace, and cleanup after it.
    const timeoutMs = Math.max(STOP_WATCHDOG_MS, lab.config.jobs.stop_grace + 30_000);
    const watchdog = setTimeout(() => {
      log.fatal({ timeoutMs }, 'stop took too long, exiting');
      process.exit(EXIT_FAILURE);
    }, timeoutMs);
    watchdog.unref();
    agent.stop().then(
      () => {
        log.info({ reason }, 'agent stopped');
        resolveStopped(code);
      },
      (error: unknown) => {
        log.error({ err: coerceError(error) }, 'agent stop failed');
        resolveStopped(EXIT_FAILURE);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(EXIT_FAILURE);
    }
    log.info({ signal }, 'signal received, stopping');
    stop(signal, EXIT_OK);
  };
  const onFatal = (error: unknown): void => {
    log.fatal({ err: coerceError(error) }, 'unhandled error, stopping');
    stop('unhandled error', EXIT_FAILURE);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', onFatal);
  process.on('uncaughtException', onFatal);
  try {
    await agent.start();
  } catch (error) {
    await agent.stop();
    throw error;
  } finally {
    // Nothing else to wait for when start failed; the handlers stay for a running agent.
    if (agent.currentState !== 'running') removeHandlers();
  }
  const code = await stopped;
  removeHandlers();
  // Anything still holding the event loop after a stop (a socket that would not close) must not keep
  // a stopped agent alive; the unref'd timer only fires if something does.
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;

  function removeHandlers(): void {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('unhandledRejection', onFatal);
    process.off('uncaughtException', onFatal);
  }
}
