// Sees every open of a file by any process (inotify IN_OPEN, via
// open-watch.py): how a test proves a passive check leaves a device alone,
// where a stat() or a sysfs read is fine but an open would disturb a job.
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lifo, type Cleanup } from './cleanup.js';
import { eventually } from './eventually.js';

const SCRIPT = fileURLToPath(new URL('open-watch.py', import.meta.url));

export interface OpenWatch {
  /** Opens seen so far. */
  opens: () => number;
}

export async function watchOpens(t: Cleanup, path: string): Promise<OpenWatch> {
  const watcher = spawn('python3', [SCRIPT, realpathSync(path)], { stdio: ['ignore', 'pipe', 'inherit'] });
  lifo(t).after(() => watcher.kill('SIGKILL'));
  const seen = { ready: false, opens: 0 };
  watcher.stdout.setEncoding('utf8').on('data', (text: string) => {
    for (const line of text.split('\n')) {
      if (line === 'ready') seen.ready = true;
      else if (line === 'open') seen.opens += 1;
    }
  });
  await eventually(() => seen.ready || watcher.exitCode !== null, {
    timeoutMs: 5_000,
    message: `the open watch on ${path}`,
  });
  if (!seen.ready) throw new Error(`cannot watch opens of ${path} (python3 exited ${watcher.exitCode ?? '?'})`);
  return { opens: () => seen.opens };
}
