// A real pdudaemon (src/emulated-lab/pdudaemon-process.ts) stopped after the test.
import { lifo, type Cleanup } from './cleanup.js';
import { startPdudaemon as startProcess } from '../../src/emulated-lab/pdudaemon-process.js';

export interface Pdudaemon {
  url: string;
  port: number;
  pdu: string;
  /** The file the outlet commands append "on N" / "off N" to. */
  outletLog: string;
  /** Lines the outlet commands wrote ("on 1", "off 2"). */
  switched: () => string[];
  stop: () => Promise<void>;
}

export async function startPdudaemon(t: Cleanup, dir: string): Promise<Pdudaemon> {
  const daemon = await startProcess(dir);
  lifo(t).after(daemon.stop);
  return daemon;
}
