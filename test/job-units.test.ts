// The pure parts of running a job: how an outcome is decided, what a job's
// environment contains, durations in messages. The humility file has its own
// test (humility-environment.test.ts).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import { deviceEnvName } from '../src/devices/device-node.js';
import { jobEnvironment } from '../src/jobs/job-environment.js';
import { decideOutcome } from '../src/jobs/job-outcome.js';
import { PROJECT_ROOT } from './helpers/cli.js';

const lab = loadLabConfig(join(PROJECT_ROOT, 'slots.example.toml'));

describe('job outcome', () => {
  it('blames the lab first, then the canceller, then the clock, then the exit status', () => {
    const killed = { code: null, signal: 'SIGKILL' };
    assert.deepEqual(decideOutcome({ code: 0, signal: null }, undefined), {
      state: 'succeeded',
      exitCode: 0,
      signal: null,
      reason: 'exit code 0',
      endedBy: 'exit',
      infrastructure: false,
    });
    assert.deepEqual(decideOutcome({ code: 7, signal: null }, undefined), {
      state: 'failed',
      exitCode: 7,
      signal: null,
      reason: 'exit code 7',
      endedBy: 'exit',
      infrastructure: false,
    });
    assert.equal(decideOutcome(killed, undefined).reason, 'killed by SIGKILL');
    assert.equal(decideOutcome(killed, { kind: 'timeout', afterMs: 90_000 }).reason, 'timed out after 1m30s');
    assert.deepEqual(decideOutcome(killed, { kind: 'cancel', by: 'operator:12345678' }).state, 'cancelled');
    const broken = decideOutcome({ code: 0, signal: null }, { kind: 'marked-broken', message: 'no SP' });
    assert.deepEqual(
      { state: broken.state, reason: broken.reason, infrastructure: broken.infrastructure },
      { state: 'failed', reason: 'marked broken: no SP', infrastructure: true },
    );
    assert.equal(decideOutcome(killed, { kind: 'agent-stopping' }).infrastructure, true);
  });
});

describe('job environment', () => {
  const slot = lab.slots.get('gimlet-1');
  assert.ok(slot);

  it("carries identity, devices, slot env and job env, and never the agent's own environment", () => {
    const nodes = new Map<string, string | null>([
      ['gimlet-1-sp-probe', '/dev/bus/usb/001/004'],
      ['gimlet-1-console', '/dev/ttyUSB0'],
    ]);
    const env = jobEnvironment(
      {
        lab,
        slot,
        agentUrl: 'http://127.0.0.1:8421',
        commandDir: '/var/lib/labslot/bin',
        jobEnv: { HUBRIS_IMAGE: 'x.zip' },
      },
      {
        workerId: 'w1',
        jobId: 'j1',
        username: 'ls-1',
        token: 'lsw_t',
        home: '/w/home',
        work: '/w/work',
        tmp: '/w/tmp',
        humilityFile: '/w/h.json',
        nodes,
      },
    );
    assert.equal(env['LABSLOT_DEVICE_GIMLET_1_SP_PROBE'], '/dev/bus/usb/001/004');
    assert.equal(env['LABSLOT_DEVICE_GIMLET_1_CONSOLE'], '/dev/ttyUSB0');
    assert.match(env['LABSLOT_DEVICE_GIMLET_1_SP_NET'] ?? '', /^fe80::.*%lab0$/);
    assert.equal(env['GIMLET_SERIAL'], 'BRM42220012');
    assert.equal(env['HUBRIS_IMAGE'], 'x.zip');
    assert.equal(env['PATH'], '/var/lib/labslot/bin:/usr/local/bin:/usr/bin:/bin');
    assert.deepEqual(
      [
        env['LABSLOT_URL'],
        env['LABSLOT_TOKEN'],
        env['LABSLOT_WORKER'],
        env['LABSLOT_JOB'],
        env['LABSLOT_SLOT'],
        env['LABSLOT_TARGET'],
        env['HUMILITY_ENVIRONMENT'],
        env['HOME'],
        env['USER'],
      ],
      ['http://127.0.0.1:8421', 'lsw_t', 'w1', 'j1', 'gimlet-1', 'gimlet', '/w/h.json', '/w/home', 'ls-1'],
    );
    assert.equal(env['LABSLOT_DEVICE_GIMLET_1_HUMILITY'], undefined, 'command checks have no value for a job');
    assert.equal(
      Object.keys(env).filter(
        (k) => k in process.env && !['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TMPDIR'].includes(k),
      ).length,
      0,
    );
    assert.equal(deviceEnvName('rack-a.console-mux'), 'LABSLOT_DEVICE_RACK_A_CONSOLE_MUX');
  });
});

describe('durations in messages', () => {
  it('format the way the config writes them, and parse back', () => {
    for (const [ms, text] of [
      [250, '250ms'],
      [1_000, '1s'],
      [1_500, '1.5s'],
      [90_000, '1m30s'],
      [3_600_000, '1h'],
      [5_400_000, '1h30m'],
      [86_401_000, '1d1s'],
    ] as const) {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms);
    }
  });
});
