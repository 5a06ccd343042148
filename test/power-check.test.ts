// Power outlet checks and switching: a real pdudaemon with a localcmdline PDU,
// and the command driver with real programs.
import assert from 'node:assert/strict';
import { writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkPower, type PowerSpec } from '../src/devices/power-check.js';
import { powerControl, switchPower } from '../src/devices/power-control.js';
import { runCheck } from '../src/devices/run-check.js';
import { startPdudaemon } from './helpers/pdudaemon.js';
import { command, requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';
import { eventually } from './helpers/eventually.js';

const PDUDAEMON = command('pdudaemon', ['--help']);

function check(spec: PowerSpec): ReturnType<typeof runCheck> {
  return runCheck(3_000, new AbortController().signal, (signal) =>
    checkPower(spec, { mode: 'passive', signal, timeoutMs: 3_000 }),
  );
}

describe('pdudaemon driver', () => {
  it('is healthy while the daemon answers, without claiming to know the outlet state', async (t) => {
    if (!requires(t, PDUDAEMON)) return;
    const dir = tempDir(t);
    const pdu = await startPdudaemon(t, dir);
    const spec: PowerSpec = { driver: 'pdudaemon', url: pdu.url, pdu: pdu.pdu, port: 3 };
    const result = await check(spec);
    assert.equal(result.ok, true, result.reason);
    assert.equal(result.reason, `pdudaemon at ${pdu.url} answering`);
    assert.match(result.detail ?? '', /not observable/);
    assert.deepEqual(pdu.switched(), [], 'a health check must never switch an outlet');

    await switchPower(spec, 'on', new AbortController().signal);
    await eventually(() => pdu.switched().includes('on 3'), { message: 'the outlet command' });
    await powerControl(spec).cycle(new AbortController().signal);
    await eventually(() => pdu.switched().slice(-2).join(',') === 'off 3,on 3', { message: 'the power cycle' });

    await pdu.stop();
    const down = await check(spec);
    assert.equal(down.ok, false);
    assert.equal(down.reason, `pdudaemon at ${pdu.url} not answering: connection refused`);
  });

  it('reports a PDU name pdudaemon does not know when switching', async (t) => {
    if (!requires(t, PDUDAEMON)) return;
    const pdu = await startPdudaemon(t, tempDir(t));
    await assert.rejects(
      switchPower(
        { driver: 'pdudaemon', url: pdu.url, pdu: 'no-such-pdu', port: 1 },
        'off',
        new AbortController().signal,
      ),
      /HTTP 500/,
    );
  });
});

describe('command driver', () => {
  function relay(dir: string, statusExit: number): PowerSpec {
    const script = join(dir, 'relay');
    writeFileSync(
      script,
      `#!/bin/sh\necho "relay $*" >> ${join(dir, 'relay.log')}\n[ "$1" = status ] && { echo "channel 3 is on"; exit ${statusExit}; }\nexit 0\n`,
    );
    chmodSync(script, 0o755);
    return { driver: 'command', on: [script, 'on'], off: [script, 'off'], status: [script, 'status'] };
  }

  it('uses the status program: exit 0 healthy, otherwise the exit code and output', async (t) => {
    const dir = tempDir(t);
    const good = await check(relay(dir, 0));
    assert.equal(good.ok, true);
    assert.equal(good.detail, 'channel 3 is on');
    const bad = await check(relay(dir, 3));
    assert.equal(bad.ok, false);
    assert.equal(bad.reason, 'power status command exited 3');
    assert.equal(bad.detail, 'channel 3 is on');
  });

  it('says when the status program does not exist', async () => {
    const result = await check({
      driver: 'command',
      on: ['true'],
      off: ['true'],
      status: ['/nonexistent/relay', 'status'],
    });
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'power status command cannot run: ENOENT');
  });

  it('switches with on, off and cycle (off then on)', async (t) => {
    const dir = tempDir(t);
    const outlet = powerControl(relay(dir, 0));
    await outlet.cycle(new AbortController().signal);
    await outlet.off(new AbortController().signal);
    assert.deepEqual(readFileSync(join(dir, 'relay.log'), 'utf8').trim().split('\n'), [
      'relay off',
      'relay on',
      'relay off',
    ]);
  });
});
