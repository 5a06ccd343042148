// A real serial line without hardware (src/emulated-lab/pty-console.ts), with
// its stop registered on the test: socat joins two pseudo-terminals, and
// `responder` plays the SP console on the far end.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { SerialPort } from 'serialport';
import { startPtyPair, startResponder } from '../../src/emulated-lab/pty-console.js';
import { lifo, type Cleanup } from './cleanup.js';
import { eventually } from './eventually.js';

export interface PtyPair {
  /** The end labslot checks (what a /dev/serial/by-id link would point at). */
  device: string;
  /** The end the fake console answers on. */
  peer: string;
  socat: ChildProcess;
  kill: () => Promise<void>;
}

export async function ptyPair(t: Cleanup, dir: string, name = 'console'): Promise<PtyPair> {
  const pair = await startPtyPair(dir, name);
  lifo(t).after(pair.stop);
  return { device: pair.device, peer: pair.peer, socat: pair.socat.child, kill: pair.stop };
}

/** Answers every line received on `path` with `answer(line)`; closed after the test. */
export async function responder(
  t: Cleanup,
  path: string,
  answer: (line: string) => string | null,
): Promise<SerialPort> {
  const serial = await startResponder(path, answer);
  lifo(t).after(serial.stop);
  return serial.port;
}

/** Another process holding the exclusive lock on `path`, as a job using the console would. */
export async function holdLock(t: Cleanup, path: string): Promise<void> {
  // --no-fork: flock becomes the sleeping process, so killing it really releases the lock. It waits for
  // the lock (no --nonblock), since the probe below holds it for a moment.
  const holder = spawn('flock', ['--no-fork', '--exclusive', path, 'sleep', '60'], { stdio: 'ignore' });
  lifo(t).after(() => holder.kill('SIGKILL'));
  await eventually(() => spawnSync('flock', ['--nonblock', '--exclusive', path, 'true']).status !== 0, {
    timeoutMs: 5_000,
    message: `the lock on ${path} to be taken`,
  });
}
