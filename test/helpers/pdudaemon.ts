// A real pdudaemon (src/emulated-lab/pdudaemon-process.ts) stopped after the test.
import type { TestContext } from 'node:test';
import { lifo } from './cleanup.js';
import { startPdudaemon as startProcess } from '../../src/emulated-lab/pdudaemon-process.js';

export interface Pdudaemon {
  url: string;
  port: number;
  pdu: string;
  /** Lines the outlet commands wrote ("on 1", "off 2"). */
  switched: () => string[];
  stop: () => Promise<void>;
}

export async function startPdudaemon(t: TestContext, dir: string): Promise<Pdudaemon> {
  const daemon = await startProcess(dir);
  lifo(t).after(daemon.stop);
  return daemon;
}
