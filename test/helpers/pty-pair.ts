// A real serial line without hardware: socat joins two pseudo-terminals, and
// `responder` plays the SP console on the far end.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { SerialPort } from 'serialport';

export interface PtyPair {
  /** The end labslot checks (what a /dev/serial/by-id link would point at). */
  device: string;
  /** The end the fake console answers on. */
  peer: string;
  socat: ChildProcess;
  kill: () => Promise<void>;
}

export async function ptyPair(t: Cleanup, dir: string, name = 'console'): Promise<PtyPair> {
  const device = join(dir, `${name}-dev`);
  const peer = join(dir, `${name}-peer`);
  const socat = spawn('socat', [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${peer}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => socat.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (socat.exitCode === null && socat.signalCode === null) socat.kill('SIGTERM');
    await exited;
  };
  t.after(kill);
  const deadline = Date.now() + 5_000;
  while (!(existsSync(device) && existsSync(peer))) {
    if (Date.now() > deadline) throw new Error('socat did not create the PTY links within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { device, peer, socat, kill };
}

/** Answers every line received on `path` with `answer(line)`; returns a function that closes it. */
export async function responder(t: Cleanup, path: string, answer: (line: string) => string | null): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 115_200, lock: false, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  let buffer = '';
  port.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    let end;
    while ((end = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1).replace(/^\n/, '');
      const reply = answer(line);
      if (reply !== null) port.write(reply);
    }
  });
  port.on('error', () => undefined);
  t.after(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
  return port;
}

/** Another process holding the exclusive lock on `path`, as a job using the console would. */
export async function holdLock(t: Cleanup, path: string): Promise<void> {
  // --no-fork: flock becomes the sleeping process, so killing it really releases the lock. It waits for
  // the lock (no --nonblock), since the probe below holds it for a moment.
  const holder = spawn('flock', ['--no-fork', '--exclusive', path, 'sleep', '60'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  const deadline = Date.now() + 5_000;
  while (spawnSync('flock', ['--nonblock', '--exclusive', path, 'true']).status === 0) {
    if (Date.now() > deadline) throw new Error(`the lock on ${path} was not taken within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
