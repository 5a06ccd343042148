// Serial console checks against real pseudo-terminals with a responder playing
// the SP console: each failure an operator meets has its own reason.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CheckContext } from '../src/devices/check-result.js';
import { runCheck } from '../src/devices/run-check.js';
import { checkSerial, type SerialSpec } from '../src/devices/serial-check.js';
import { command, requires } from './helpers/prerequisites.js';
import { holdLock, ptyPair, responder } from './helpers/pty-pair.js';
import { PROJECT_ROOT } from './helpers/cli.js';
import { tempDir } from './helpers/temp-dir.js';

const SOCAT = command('socat', ['-V']);
const FLOCK = command('flock', ['--version']);

function spec(path: string, answer = 'hubris> $'): SerialSpec {
  return { path, baud: 115_200, probe: { send: '\r\n', expect: answer, timeout: 700 } };
}

function check(s: SerialSpec, mode: CheckContext['mode'] = 'active'): ReturnType<typeof runCheck> {
  return runCheck(3_000, new AbortController().signal, (signal) => checkSerial(s, { mode, signal, timeoutMs: 3_000 }));
}

describe('serial checks on PTYs', () => {
  it('is healthy when the console answers the probe, through a by-id style link', async (t) => {
    if (!requires(t, SOCAT)) return;
    const dir = tempDir(t);
    const pty = await ptyPair(t, dir);
    await responder(t, pty.peer, () => '\r\nhubris> ');
    const link = join(dir, 'usb-FTDI_FT232R_USB_UART_A10KZP4J-if00-port0');
    symlinkSync(pty.device, link);
    const result = await check(spec(link));
    assert.equal(result.ok, true, result.reason);
    assert.match(result.reason, /^serial \/dev\/pts\/\d+ answered$/);
    assert.match(result.detail ?? '', /hubris> /);
  });

  it('reports an unexpected answer with its first bytes', async (t) => {
    if (!requires(t, SOCAT)) return;
    const pty = await ptyPair(t, tempDir(t));
    await responder(t, pty.peer, () => 'U-Boot 2023.01\r\n=> ');
    const result = await check(spec(pty.device));
    assert.equal(result.ok, false);
    assert.match(result.reason, /unexpected answer \(first bytes "U-Boot 2023.01\\\\r\\\\n=> "\)/);
  });

  it('reports no answer when nothing replies within the probe timeout', async (t) => {
    if (!requires(t, SOCAT)) return;
    const pty = await ptyPair(t, tempDir(t));
    await responder(t, pty.peer, () => null);
    const result = await check(spec(pty.device));
    assert.equal(result.ok, false);
    assert.match(result.reason, /no answer within 700 ms/);
  });

  it('reports busy when another process holds the lock', async (t) => {
    if (!requires(t, SOCAT, FLOCK)) return;
    const pty = await ptyPair(t, tempDir(t));
    await responder(t, pty.peer, () => 'hubris> ');
    await holdLock(t, pty.device);
    const result = await check(spec(pty.device));
    assert.equal(result.ok, false);
    assert.match(result.reason, /busy \(locked by another process\)/);
  });

  it('reports a node that is gone', async (t) => {
    if (!requires(t, SOCAT)) return;
    const dir = tempDir(t);
    const pty = await ptyPair(t, dir);
    await pty.kill();
    const result = await check(spec(pty.device));
    assert.equal(result.ok, false);
    assert.equal(result.reason, `serial ${pty.device} not present`);
  });

  it('fails, within its timeout, when the responder is killed mid-check', async (t) => {
    if (!requires(t, SOCAT)) return;
    const pty = await ptyPair(t, tempDir(t));
    // The SP console as its own process: it reads the probe and never answers, then dies.
    const script = `const { SerialPort } = require('serialport'); const p = new SerialPort({ path: ${JSON.stringify(pty.peer)}, baudRate: 115200, lock: false }); p.on('open', () => console.log('up')); p.on('data', () => {});`;
    const console_ = spawn(process.execPath, ['-e', script], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => console_.kill('SIGKILL'));
    await new Promise<void>((resolve) => console_.stdout.once('data', () => resolve()));
    const pending = check({ ...spec(pty.device), probe: { send: '\r\n', expect: 'hubris>', timeout: 2_000 } });
    setTimeout(() => console_.kill('SIGKILL'), 300);
    const result = await pending;
    assert.equal(result.ok, false);
    // Its own reason, within the probe timeout: not the 3 s deadline of a hung check ('check timed out', 'check aborted').
    assert.match(
      result.reason,
      /^serial \S+ (no answer within 2000 ms|disconnected during the check|failed during the check)/,
    );
  });

  it('fails, within its timeout, when the console node vanishes mid-check', async (t) => {
    if (!requires(t, SOCAT)) return;
    const pty = await ptyPair(t, tempDir(t));
    await responder(t, pty.peer, () => null);
    const pending = check({ ...spec(pty.device), probe: { send: '\r\n', expect: 'hubris>', timeout: 2_000 } });
    setTimeout(() => void pty.kill(), 300);
    const result = await pending;
    assert.equal(result.ok, false);
    // Its own reason, within the probe timeout: not the 3 s deadline of a hung check ('check timed out', 'check aborted').
    assert.match(result.reason, /^serial \S+ (disconnected during the check|no answer within 2000 ms)/);
  });

  it('never opens the port in passive mode', async (t) => {
    if (!requires(t, SOCAT, FLOCK)) return;
    const pty = await ptyPair(t, tempDir(t));
    // The lock would make an active check fail; a passive one must not notice it.
    await holdLock(t, pty.device);
    const result = await check(spec(pty.device), 'passive');
    assert.equal(result.ok, true, result.reason);
    assert.match(result.reason, /present$/);
  });

  it('passive check notices a path that is not a character device', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'not-a-tty');
    symlinkSync('/etc/hostname', file);
    const result = await check(spec(file), 'passive');
    assert.equal(result.ok, false);
    assert.match(result.reason, /is not a character device/);
    unlinkSync(file);
  });
});
