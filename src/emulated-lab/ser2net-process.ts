// A real ser2net (Debian's, 4.x) serving one serial device on a loopback TCP
// port, as a console server would: the network console of console-server
// devices. Run in the foreground from a config of our own, never as the
// packaged service.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess } from './background-process.js';
import { freePort } from './free-port.js';
import { waitForListener } from './port-open.js';

export interface Ser2netProcess {
  host: string;
  port: number;
  daemon: BackgroundProcess;
  /** Stops ser2net; idempotent. */
  stop: () => Promise<void>;
}

/** Serves `device` (a tty, e.g. one end of a PTY pair) raw on 127.0.0.1; writes its config into `dir`. */
export async function startSer2net(dir: string, device: string, { timeoutMs = 10_000 } = {}): Promise<Ser2netProcess> {
  // ser2net cannot be told to pick a port itself.
  const port = await freePort();
  const conf = join(dir, `ser2net-${port}.yaml`);
  // `local`: a PTY has no modem lines to wait for; kickolduser: a new client takes the console, as on a console server.
  writeFileSync(
    conf,
    [
      'connection: &console',
      `  accepter: tcp,127.0.0.1,${port}`,
      `  connector: serialdev,${device},115200n81,local`,
      '  options:',
      '    kickolduser: true',
      '',
    ].join('\n'),
  );
  // -n: stay in the foreground (stop() signals it); -u: no UUCP lock files in /var/lock.
  const daemon = await startBackground(['ser2net', '-n', '-u', '-c', conf]);
  await waitForListener(daemon, port, 'ser2net', `its config: ${conf}`, timeoutMs);
  return { host: '127.0.0.1', port, daemon, stop: daemon.stop };
}
