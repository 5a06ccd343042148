// Runs the device-kind contract (device-kinds.contract.ts) for every kind in
// the registry, each against real parts: PTYs with a responder, a real
// ser2net, pdudaemon, a network namespace, real programs. A kind added to the
// registry without a case here fails the first test.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, constants, openSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deviceKinds } from '../src/devices/kinds/registry.js';
import { startPdudaemon } from '../src/emulated-lab/pdudaemon-process.js';
import { lifo, type Cleanup } from './helpers/cleanup.js';
import { freePort } from './helpers/free-port.js';
import { ipv6Target } from './helpers/netns.js';
import { watchOpens } from './helpers/open-watch.js';
import { command, ROOT } from './helpers/prerequisites.js';
import { ptyPair, responder } from './helpers/pty-pair.js';
import { networkConsole } from './helpers/ser2net.js';
import { eventually } from './helpers/eventually.js';
import { deviceKindContract } from './device-kinds.contract.js';

const SOCAT = command('socat', ['-V']);
const PYTHON = command('python3', ['--version']);
const SER2NET = command('ser2net', ['-v']);
const NETNS = [ROOT, command('ip', ['-V']), command('ping', ['-V'])];
const PDUDAEMON = command('pdudaemon', ['--help']);

const CASES = ['usb', 'serial', 'power', 'ipv6', 'command', 'console-server'] as const;

describe('device kinds', () => {
  it('every kind in the registry runs the contract below', () => {
    assert.deepEqual(Object.keys(deviceKinds).sort(), [...CASES].sort());
  });

  it('only a power outlet can be switched (labslot power refuses any other device as no power device)', () => {
    assert.deepEqual(
      Object.entries(deviceKinds)
        .filter(([, kind]) => kind.outlet !== undefined)
        .map(([name]) => name),
      ['power'],
    );
  });
});

/** Opens and closes a tty as a job would, without becoming its controlling terminal. */
function openOnce(path: string): Promise<void> {
  closeSync(openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK));
  return Promise.resolve();
}

/** A TCP peer that accepts and then never says anything: a hung daemon or console server. */
async function silentServer(t: Cleanup): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  lifo(t).after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** Sends one line over TCP and closes. */
/**
 * Sends a line to a network console and waits for its answer before hanging up:
 * ser2net opens the serial side only once a client is connected, so a client that
 * writes and closes at once may be gone (its line dropped) before the console saw it.
 */
function exchangeLine(host: string, port: number, line: string, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => socket.write(`${line}\n`));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('data', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function sendLine(host: string, port: number, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => socket.end(`${line}\n`, () => resolve()));
    socket.on('error', reject);
  });
}

deviceKindContract('usb', [SOCAT, PYTHON], async (t, dir) => {
  // No probe is plugged in here: the bus lists one whose node is a real character device (a PTY), so
  // an open of it would be seen; QEMU's emulated probes are the usb-qemu tests' part.
  const pty = await ptyPair(t, dir, 'usb-node');
  const node = realpathSync(pty.device);
  const watch = await watchOpens(t, node);
  const probe = { kind: 'usb', vid: 0x1fc9, pid: 0x0143, role: 'sp-probe', archive: undefined } as const;
  const bus = [
    { vid: 0x1fc9, pid: 0x0143, serial: 'CONTRACT-1', busNumber: 1, deviceAddress: 7, node, sysfsName: '1-1' },
  ];
  return {
    working: { ...probe, serial: 'CONTRACT-1' },
    broken: { ...probe, serial: 'UNPLUGGED' },
    hung: { ...probe, serial: 'BEHIND-A-WEDGED-HUB' },
    names: (spec) => [`usb 1fc9:0143 serial ${spec.serial}`],
    offBus: { ...probe, serial: 'UNPLUGGED' },
    contacts: watch.opens,
    touch: () => openOnce(node),
    activeTouches: false,
    // A wedged hub: the enumeration never returns.
    context: (spec) => ({
      usb: spec.serial === 'BEHIND-A-WEDGED-HUB' ? () => new Promise(() => undefined) : () => Promise.resolve(bus),
    }),
  };
});

deviceKindContract('serial', [SOCAT, PYTHON], async (t, dir) => {
  const pty = await ptyPair(t, dir, 'console');
  await responder(t, pty.peer, () => '\r\nhubris> ');
  const silent = await ptyPair(t, dir, 'silent');
  await responder(t, silent.peer, () => null);
  const watch = await watchOpens(t, pty.device);
  const probe = { send: '\r\n', expect: 'hubris> $', timeout: 500 };
  return {
    working: { kind: 'serial', path: pty.device, baud: 115_200, probe },
    broken: { kind: 'serial', path: join(dir, 'usb-FTDI-unplugged'), baud: 115_200, probe },
    hung: { kind: 'serial', path: silent.device, baud: 115_200, probe },
    names: (spec) => [spec.path ?? '', realpathSafe(spec.path ?? '')].filter(Boolean),
    // A console by its adapter's identity, the adapter unplugged: its reset and rebind are the adapter's.
    offBus: { kind: 'serial', usb: { vid: 0x0403, pid: 0x6001, serial: 'UNPLUGGED' }, baud: 115_200, probe },
    contacts: watch.opens,
    touch: () => openOnce(pty.device),
    activeTouches: true,
  };
});

deviceKindContract('power', [PDUDAEMON], async (t, dir) => {
  const pdu = await startPdudaemon(dir);
  lifo(t).after(pdu.stop);
  const outlet = { kind: 'power', driver: 'pdudaemon', pdu: pdu.pdu, port: 1 } as const;
  const working = { ...outlet, url: pdu.url };
  return {
    working,
    broken: { ...outlet, url: `http://127.0.0.1:${await freePort()}` },
    hung: { ...outlet, url: `http://127.0.0.1:${await silentServer(t)}` },
    names: (spec) => [spec.driver === 'pdudaemon' ? spec.url : spec.status.join(' ')],
    // The outlet is the device: a check must never switch it.
    contacts: () => pdu.switched().length,
    // Through the kind's own switch, as `labslot worker power` and power_after_job switch it.
    touch: async () => {
      assert.ok(deviceKinds.power.outlet);
      await deviceKinds.power.outlet(working, 'on', AbortSignal.timeout(10_000));
    },
    activeTouches: false,
  };
});

deviceKindContract('ipv6', NETNS, async (t) => {
  const target = ipv6Target(t);
  const port = 11111;
  // The SP's management service, counting the bytes each connection brought.
  const listener = spawn(
    'ip',
    [
      'netns',
      'exec',
      target.namespace,
      process.execPath,
      '-e',
      `require('net').createServer(s => { let n = 0; s.on('data', d => n += d.length); s.on('close', () => console.log('bytes ' + n)); s.on('error', () => {}); }).listen(${port}, '::', () => console.log('up'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  lifo(t).after(() => listener.kill('SIGKILL'));
  let up = false;
  const connections: number[] = [];
  listener.stdout.setEncoding('utf8').on('data', (text: string) => {
    for (const line of text.split('\n')) {
      if (line === 'up') up = true;
      const bytes = /^bytes (\d+)$/.exec(line)?.[1];
      if (bytes !== undefined) connections.push(Number(bytes));
    }
  });
  await eventually(() => up, { timeoutMs: 5_000, message: 'the listener in the namespace' });
  return {
    working: { kind: 'ipv6', address: target.globalAddress, tcp_port: port },
    broken: { kind: 'ipv6', address: target.globalAddress, tcp_port: port + 1 },
    // On the link, but nobody has it: neighbour discovery never completes.
    hung: { kind: 'ipv6', address: target.globalAddress.replace(/2$/, '99') },
    names: (spec) => [spec.address],
    // Bytes sent to the SP's service; its connections counted only once they carried any.
    contacts: () => connections.reduce((sum, n) => sum + n, 0),
    touch: () => sendLine(target.globalAddress, port, '').then(() => undefined),
    activeTouches: false,
  };
});

deviceKindContract('command', [], (_t, dir) => {
  const runs = join(dir, 'runs');
  writeFileSync(runs, '');
  return Promise.resolve({
    working: { kind: 'command', argv: ['sh', '-c', `echo run >> ${runs}`] },
    broken: { kind: 'command', argv: ['false'] },
    hung: { kind: 'command', argv: ['sleep', '60'] },
    names: (spec) => [`command ${spec.argv[0] ?? ''}`],
    contacts: () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length,
    touch: () => Promise.resolve(appendFileSync(runs, 'test\n')),
    activeTouches: true,
  });
});

deviceKindContract('console-server', [SOCAT, SER2NET], async (t, dir) => {
  const answering = await networkConsole(t, dir, () => '\r\nhubris> ', 'answering');
  const silent = await networkConsole(t, dir, () => null, 'silent');
  const probe = { send: '\r\n', expect: 'hubris> $', timeout: 500 };
  return {
    working: { kind: 'console-server', host: answering.host, port: answering.port, probe },
    broken: { kind: 'console-server', host: '127.0.0.1', port: await freePort(), probe },
    hung: { kind: 'console-server', host: silent.host, port: silent.port, probe },
    names: (spec) => [`${spec.host}:${spec.port}`],
    // Lines the console received through ser2net: a passive connect sends none.
    contacts: () => answering.received.length,
    touch: () => exchangeLine(answering.host, answering.port, 'marker'),
    activeTouches: true,
  };
});

function realpathSafe(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return '';
  }
}
