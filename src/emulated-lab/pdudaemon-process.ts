// A real pdudaemon on 127.0.0.1 with one `localcmdline` PDU whose outlet
// commands append to a file, so whoever switched an outlet can be seen.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess } from './background-process.js';
import { freePort } from './free-port.js';
import { waitForListener } from './port-open.js';

export interface PdudaemonProcess {
  url: string;
  port: number;
  pdu: string;
  /** The file the outlet commands append "on N" / "off N" to. */
  outletLog: string;
  /** Lines the outlet commands wrote ("on 1", "off 2"). */
  switched: () => string[];
  daemon: BackgroundProcess;
  /** Stops pdudaemon; idempotent. */
  stop: () => Promise<void>;
}

/** Writes its config, outlet log and own log into `dir`. */
export async function startPdudaemon(
  dir: string,
  { pdu = 'lab-pdu', timeoutMs = 15_000 } = {},
): Promise<PdudaemonProcess> {
  // pdudaemon cannot be told to pick a port itself.
  const port = await freePort();
  const outletLog = join(dir, 'outlets.log');
  writeFileSync(outletLog, '');
  const conf = join(dir, 'pdudaemon.json');
  // Its packaged config listens on 0.0.0.0 without authentication: always our own, on loopback.
  writeFileSync(
    conf,
    JSON.stringify({
      daemon: { hostname: '127.0.0.1', port, listener: 'http', logging_level: 'INFO' },
      pdus: {
        [pdu]: { driver: 'localcmdline', cmd_on: `echo on %s >> ${outletLog}`, cmd_off: `echo off %s >> ${outletLog}` },
      },
    }),
  );
  const daemon = await startBackground(['pdudaemon', `--conf=${conf}`, `--logfile=${join(dir, 'pdudaemon.log')}`]);
  await waitForListener(daemon, port, 'pdudaemon', `its log: ${join(dir, 'pdudaemon.log')}`, timeoutMs);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pdu,
    outletLog,
    switched: () => readFileSync(outletLog, 'utf8').split('\n').filter(Boolean),
    daemon,
    stop: daemon.stop,
  };
}
