// A real pdudaemon on 127.0.0.1 with a `localcmdline` PDU whose outlet
// commands append to a file, so tests can see what was switched.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './free-port.js';

export interface Pdudaemon {
  url: string;
  port: number;
  pdu: string;
  /** Lines the outlet commands wrote ("on 1", "off 2"). */
  switched: () => string[];
  stop: () => Promise<void>;
}

export async function startPdudaemon(t: TestContext, dir: string): Promise<Pdudaemon> {
  // pdudaemon cannot be told to pick a port itself.
  const port = await freePort();
  const log = join(dir, 'outlets.log');
  writeFileSync(log, '');
  const conf = join(dir, 'pdudaemon.json');
  writeFileSync(
    conf,
    JSON.stringify({
      daemon: { hostname: '127.0.0.1', port, listener: 'http', logging_level: 'INFO' },
      pdus: { 'lab-pdu': { driver: 'localcmdline', cmd_on: `echo on %s >> ${log}`, cmd_off: `echo off %s >> ${log}` } },
    }),
  );
  const child = spawn('pdudaemon', [`--conf=${conf}`, `--logfile=${join(dir, 'pdudaemon.log')}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // pdudaemon's shutdown waits for open keep-alive connections (fetch keeps them); do not wait forever.
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };
  t.after(stop);
  const deadline = Date.now() + 15_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) throw new Error(`pdudaemon exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('pdudaemon did not listen within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pdu: 'lab-pdu',
    switched: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    stop,
  };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
