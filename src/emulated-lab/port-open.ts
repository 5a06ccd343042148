// Whether something accepts TCP connections on a loopback port: how the lab
// waits for a daemon that cannot say it is ready (pdudaemon, ser2net).
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackgroundProcess } from './background-process.js';
import { LabPartError } from './lab-part-error.js';

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Waits until `daemon` listens on 127.0.0.1:`port`. A daemon that exits first, or
 * does not listen in time, is stopped and reported as `name`, with `seeAlso`
 * (its config or log) for the details it wrote there.
 */
export async function waitForListener(
  daemon: BackgroundProcess,
  port: number,
  name: string,
  seeAlso: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portOpen(port))) {
    if (!daemon.running() || Date.now() > deadline) {
      const why = daemon.running()
        ? `did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`
        : `exited with ${daemon.child.exitCode ?? daemon.child.signalCode ?? '?'}`;
      await daemon.stop();
      throw new LabPartError(`${name} ${why} (${seeAlso})`);
    }
    await sleep(50);
  }
}
