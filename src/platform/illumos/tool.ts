// Running the illumos administration tools (svccfg, svcadm, useradd, projadd,
// pgrep, ...): argv only, a fixed PATH and locale so their messages parse,
// a timeout on every call, and named errors that keep the tool's own words.
import { lastLines, runProcess, type RunResult } from '../run-process.js';

export class IllumosToolError extends Error {
  override readonly name = 'IllumosToolError';
}

/** Nothing of the agent's environment reaches these tools. */
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const DEFAULT_TIMEOUT_MS = 30_000;

export interface ToolOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
  /** Output to keep; pgrep of a fork bomb prints thousands of pids. */
  keepBytes?: number;
}

/** Runs a tool; its exit code is the caller's to judge. Throws only when it could not run or finish. */
export async function runTool(argv: readonly string[], options: ToolOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const result = await runProcess(argv, {
    timeoutMs,
    signal: options.signal,
    env: TOOL_ENV,
    keepBytes: options.keepBytes,
  });
  if (result.spawnError)
    throw new IllumosToolError(`cannot run ${argv[0] ?? ''}: ${result.spawnError.message}`, {
      cause: result.spawnError,
    });
  if (result.timedOut) throw new IllumosToolError(`${argv.join(' ')} did not finish within ${timeoutMs / 1000} s`);
  if (result.aborted) throw new IllumosToolError(`${argv[0] ?? ''} was aborted`);
  return result;
}

/** Runs a tool that must succeed; otherwise throws with the end of what it said. */
export async function runToolOk(argv: readonly string[], options: ToolOptions = {}): Promise<RunResult> {
  const result = await runTool(argv, options);
  if (result.code !== 0)
    throw new IllumosToolError(
      `${argv.join(' ')} failed (exit ${String(result.code)}): ${lastLines(result.output, 3)}`,
    );
  return result;
}
