// Starts a job's sandbox chain (sandbox.ts) with its stdout and stderr
// appended to its output file, capped at [jobs] max_output, and a pipe on fd
// 3 (SANDBOX_REPORT_FD) on which the Landlock launcher says why it refused to
// run the job. Through the agent's spawner for jobs when there is one (a
// second one, apart from the one for checks and tools: process-starter.ts); it
// relays a capped job's output itself (labslot-spawner-job.c). Else with Node's spawn
// and an output relay process (output-relay.ts): the same behaviour, with two
// forks of the agent per job.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { JobExit, StartedJob } from '../platform.js';
import { OutputRelay } from '../output-relay.js';
import { jobSpawner } from '../process-starter.js';
import type { SpawnerStarter } from '../spawner-client.js';
import { within } from '../../within.js';
import { SANDBOX_REPORT_FD } from './sandbox.js';

/**
 * Once the job's first process has exited (its PID namespace, and with it every process of the job, is
 * gone), how long its output and the sandbox's report may take to reach the end of their pipes; what
 * is still in them then is lost.
 */
const DRAIN_MS = 5_000;
/** A report is one line; anything past this is not the launcher's. */
const REPORT_MAX = 4096;

export interface JobProcessOptions {
  env: NodeJS.ProcessEnv;
  outputFile: string;
  maxOutputBytes?: number;
}

export async function startJobProcess(argv: readonly string[], options: JobProcessOptions): Promise<StartedJob> {
  const spawner = jobSpawner();
  return spawner?.usable === true ? throughSpawner(spawner, argv, options) : withNodeSpawn(argv, options);
}

export async function throughSpawner(
  spawner: SpawnerStarter,
  argv: readonly string[],
  options: JobProcessOptions,
): Promise<StartedJob> {
  const job = await spawner.startJob(argv, { ...options, drainMs: DRAIN_MS });
  const exited = job.exited.then((end): JobExit => {
    if (end.spawnError !== undefined)
      return job.pid > 0
        ? { code: null, signal: null, lost: end.spawnError.message }
        : { code: null, signal: null, spawnError: end.spawnError.message };
    const sandboxError = end.report.trim();
    return sandboxError === ''
      ? { code: end.code, signal: end.signal }
      : { code: end.code, signal: end.signal, sandboxError };
  });
  return { pid: job.pid, exited };
}

export async function withNodeSpawn(argv: readonly string[], options: JobProcessOptions): Promise<StartedJob> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError('no command');
  const out = openSync(options.outputFile, 'a', 0o600);
  let relay: OutputRelay | undefined;
  try {
    // With a cap, the job writes into the relay's pipe and never holds the file itself.
    if (options.maxOutputBytes !== undefined) relay = await OutputRelay.start(out, options.maxOutputBytes, options.env);
    const sink = relay?.input ?? out;
    const child = spawn(program, args, {
      env: options.env,
      // The fourth, SANDBOX_REPORT_FD (3): the pipe the launcher tells why the job did not start.
      stdio: ['ignore', sink, sink, 'pipe'],
      // Its own process group: the agent's terminal signals do not reach it.
      detached: true,
    });
    const ended = new Promise<JobExit>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, spawnError: error.message }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const reportPipe = child.stdio[SANDBOX_REPORT_FD] as Readable | null | undefined;
    const report = readReport(reportPipe);
    const started = relay;
    const exited = ended.then(async (exit) => {
      const [sandboxError] = await Promise.all([
        exit.spawnError === undefined ? within(report, DRAIN_MS, '') : '',
        // Followers must find all of the job's output in the file once it has ended.
        started?.finish(DRAIN_MS),
      ]);
      // Read to its end, or given up on: either way not kept open.
      reportPipe?.destroy();
      return sandboxError === '' ? exit : { ...exit, sandboxError };
    });
    return { pid: child.pid ?? -1, exited };
  } catch (error) {
    await relay?.finish(0);
    throw error;
  } finally {
    closeSync(out);
    relay?.releaseInput();
  }
}

/** What the sandbox wrote on its report pipe (nothing: the job started), read until every holder has closed it. */
function readReport(pipe: Readable | null | undefined): Promise<string> {
  if (!pipe) return Promise.resolve('');
  return new Promise((resolve) => {
    let text = '';
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      if (text.length < REPORT_MAX) text += chunk;
    });
    pipe.once('error', () => pipe.destroy());
    pipe.once('close', () => resolve(text.slice(0, REPORT_MAX).trim()));
  });
}
