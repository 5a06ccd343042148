// A real serial line without hardware: socat joins two pseudo-terminals, and a
// responder plays the SP console on the far end. Tests and `labslot demo` use it.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { startBackground, type BackgroundProcess } from './background-process.js';
import { LabPartError } from './lab-part-error.js';

export interface PtyPair {
  /** The end labslot checks (what a /dev/serial/by-id link would point at). */
  device: string;
  /** The end the fake console answers on. */
  peer: string;
  socat: BackgroundProcess;
  /** Ends socat, which closes both terminals; idempotent. */
  stop: () => Promise<void>;
}

export async function startPtyPair(dir: string, name = 'console', { timeoutMs = 5_000 } = {}): Promise<PtyPair> {
  const device = join(dir, `${name}-dev`);
  const peer = join(dir, `${name}-peer`);
  // A link left by an earlier run may point at a terminal someone else has now.
  for (const link of [device, peer]) rmSync(link, { force: true });
  const socat = await startBackground(['socat', `pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${peer}`]);
  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(device) && existsSync(peer))) {
    if (!socat.running() || Date.now() > deadline) {
      await socat.stop();
      throw new LabPartError(
        socat.running()
          ? `socat did not create the PTY links within ${timeoutMs} ms`
          : 'socat exited before it created the PTY links',
      );
    }
    await sleep(20);
  }
  return { device, peer, socat, stop: socat.stop };
}

export interface Responder {
  port: SerialPort;
  /** Closes the port; idempotent. */
  stop: () => Promise<void>;
}

/** Answers every line received on `path` with `answer(line)` (null: stay silent). */
export async function startResponder(path: string, answer: (line: string) => string | null): Promise<Responder> {
  const port = new SerialPort({ path, baudRate: 115_200, lock: false, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) =>
      error ? reject(new LabPartError(`cannot open ${path}: ${error.message}`, { cause: error })) : resolve(),
    ),
  );
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
  // The far end going away (socat stopped first) is how a console dies; nothing to report.
  port.on('error', () => undefined);
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  return { port, stop };
}
