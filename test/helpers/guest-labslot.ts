// Runs INSIDE the QEMU USB lab guest: the built `labslot` command line, run as
// an operator runs it, to the end (usb-cli-guest.ts, discover-guest.ts).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface Exit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `node bin/labslot.js ARGS` in `project`, to the end (killed after timeoutMs); `env` is added to this process's. */
export function labslot(
  project: string,
  args: readonly string[],
  timeoutMs: number,
  env: Readonly<Record<string, string>> = {},
): Promise<Exit> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(project, 'bin/labslot.js'), ...args], {
    cwd: project,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}
