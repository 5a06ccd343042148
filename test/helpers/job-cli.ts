// The `labslot` CLI as a CI pipeline runs it: outside any job (the job
// variables cleared, so a test run inside a labslot job behaves like one
// outside), to completion or as a live process whose raw output and signals
// the test controls (Ctrl-C, a runner cancelling its step).
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { LABSLOT_BIN, PROJECT_ROOT, runCli, type CliResult } from './cli.js';

/** Tokens the stand-ins of the job API expect; a real agent's are job-lab's. */
export const SUBMITTER = 'demo-submitter-token';
export const OPERATOR = 'demo-operator-token';

/** The variables a job has, cleared. */
export const NOT_IN_A_JOB = {
  LABSLOT_URL: '',
  LABSLOT_TOKEN: '',
  LABSLOT_WORKER: '',
  LABSLOT_SLOT: '',
  LABSLOT_JOB: '',
  LABSLOT_CACERT: '',
  LABSLOT_TLS_NAME: '',
  LABSLOT_CONFIG: '/nonexistent/slots.toml',
};

export interface LiveCli {
  signal: (name: NodeJS.Signals) => void;
  stdout: () => Buffer;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The CLI as a live process: raw stdout bytes, and signals the test can send while it runs. */
export function spawnCli(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv): LiveCli {
  const child = spawn(process.execPath, [LABSLOT_BIN, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...NOT_IN_A_JOB, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { signal: (name) => child.kill(name), stdout: () => Buffer.concat(out), stderr: () => err, exited };
}

/** The CLI run to its end, outside a job, with `env` on top. */
export async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { env: { ...NOT_IN_A_JOB, ...env } });
}

/** Non-empty lines, for "one line saying why" assertions. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}
