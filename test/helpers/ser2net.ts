// A real ser2net (src/emulated-lab/ser2net-process.ts) in front of a PTY pair
// whose far end a responder answers: a network console, all stopped after the test.
import { startSer2net } from '../../src/emulated-lab/ser2net-process.js';
import { lifo, type Cleanup } from './cleanup.js';
import { ptyPair, responder } from './pty-pair.js';

export interface NetworkConsole {
  host: string;
  port: number;
  /** Lines the console received (what a client sent through ser2net). */
  received: string[];
  /** Stops ser2net (the console's network side goes away); idempotent. */
  stopSer2net: () => Promise<void>;
}

/** `answer(line)` is the console's reply to each line (null: stays silent). */
export async function networkConsole(
  t: Cleanup,
  dir: string,
  answer: (line: string) => string | null,
  name = 'netcons',
): Promise<NetworkConsole> {
  const pty = await ptyPair(t, dir, name);
  const received: string[] = [];
  await responder(t, pty.peer, (line) => {
    received.push(line);
    return answer(line);
  });
  const ser2net = await startSer2net(dir, pty.device);
  lifo(t).after(ser2net.stop);
  return { host: ser2net.host, port: ser2net.port, received, stopSer2net: ser2net.stop };
}
