// The health monitor with real checks (programs, PTYs): sweeps run in
// parallel, thresholds move devices in and out of health on their own, and a
// leased slot's devices only get passive checks.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { slots } from '../src/db/schema.js';
import { DeviceChecker } from '../src/devices/device-checker.js';
import { checkModeFor } from '../src/health/check-mode.js';
import { HealthMonitor } from '../src/health/health-monitor.js';
import { HealthStore, type Transition } from '../src/health/health-store.js';
import { createLogger } from '../src/log.js';
import { labFixture, type LabFixture } from './helpers/lab-fixture.js';
import { command, requires } from './helpers/prerequisites.js';
import { holdLock, ptyPair } from './helpers/pty-pair.js';
import { tempDir } from './helpers/temp-dir.js';
import { eventually } from './helpers/eventually.js';

const quietLog = createLogger(process.stderr);
quietLog.level = 'warn';

/** Running `sleep 20.5` processes: the check program of the stop test. */
function sleepers(): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return (
          !/^\d+ \(.*\) [ZX] /.test(stat) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u000020.5\u0000'
        );
      } catch {
        return false;
      }
    });
}

function monitorFor(
  t: Parameters<typeof tempDir>[0],
  fx: LabFixture,
  onTransition?: (tr: Transition) => void,
): HealthMonitor {
  const monitor = new HealthMonitor({
    lab: fx.lab,
    store: new HealthStore(fx.db, fx.lab),
    checker: new DeviceChecker(fx.lab, () => Promise.resolve([])),
    log: quietLog,
    modeOf: (device) => checkModeFor(fx.lab, fx.db, device),
    onTransition,
  });
  t.after(() => monitor.stop());
  return monitor;
}

describe('health monitor', () => {
  it('runs a sweep in parallel: every check of it is running at the same time', async (t) => {
    const dir = tempDir(t);
    const markers = join(dir, 'markers');
    mkdirSync(markers);
    // A barrier: each check leaves its marker, then succeeds only once all six markers are there, giving
    // up (exit 1) after about 4 s, well inside its 10 s timeout. Checks run one after another would leave
    // the first waiting alone for markers that cannot come, so it would fail.
    const barrier = (i: number): string =>
      `touch ${markers}/${i}; n=0; while [ "$(ls ${markers} | wc -l)" -lt 6 ]; do n=$((n+1)); [ $n -ge 80 ] && exit 1; sleep 0.05; done`;
    const devices = Array.from(
      { length: 6 },
      (_, i) =>
        `[devices.slow-${i}]\nkind = "command"\ntimeout = "10s"\nargv = ["sh", "-c", ${JSON.stringify(barrier(i))}]\n`,
    ).join('');
    const fx = labFixture(
      t,
      dir,
      `${devices}[slots.a]\ntarget = "t"\ndevices = [${Array.from({ length: 6 }, (_, i) => `"slow-${i}"`).join(', ')}]\n`,
    );
    const monitor = monitorFor(t, fx);
    const results = await monitor.checkNow([...fx.lab.devices.keys()], 'manual');
    assert.equal(results.size, 6);
    assert.deepEqual(
      [...results].map(([device, r]) => `${device}: ${r?.reason ?? 'skipped'}`).sort(),
      Array.from({ length: 6 }, (_, i) => `slow-${i}: command sh ok`),
      'each check saw all six running',
    );
    assert.deepEqual(readdirSync(markers).sort(), ['0', '1', '2', '3', '4', '5']);
  });

  it('takes a device out of health after failure_threshold failures and back after success_threshold successes', async (t) => {
    const dir = tempDir(t);
    const flag = join(dir, 'probe-present');
    writeFileSync(flag, '');
    const fx = labFixture(
      t,
      dir,
      `[health]\ninterval = "150ms"\nfailure_threshold = 3\nsuccess_threshold = 2\n[devices.probe]\nkind = "command"\nargv = ["test", "-e", "${flag}"]\n[slots.a]\ntarget = "t"\ndevices = ["probe"]\n`,
    );
    const transitions: Transition[] = [];
    const store = new HealthStore(fx.db, fx.lab);
    // The recorded results at the moment of each transition, newest first: what the thresholds decided on.
    const historyAt = new Map<string, boolean[]>();
    const monitor = monitorFor(t, fx, (tr) => {
      transitions.push(tr);
      historyAt.set(
        `${tr.from}->${tr.to}`,
        store.history('probe', 100).map((h) => h.ok),
      );
    });
    monitor.start();
    await eventually(() => store.states(['probe']).get('probe') === 'healthy', {
      timeoutMs: 3_000,
      message: 'healthy',
    });

    rmSync(flag);
    await eventually(() => store.states(['probe']).get('probe') === 'unhealthy', {
      timeoutMs: 3_000,
      message: 'unhealthy',
    });
    // Unhealthy on the third failure in a row: not on the first or second, and not later than the third.
    const down = historyAt.get('healthy->unhealthy') ?? [];
    assert.deepEqual(
      down.slice(0, 4),
      [false, false, false, true],
      `results when it went unhealthy, newest first: ${JSON.stringify(down)}`,
    );

    writeFileSync(flag, '');
    await eventually(() => store.states(['probe']).get('probe') === 'healthy', {
      timeoutMs: 3_000,
      message: 'healthy again',
    });
    assert.deepEqual(
      transitions.map((tr) => `${tr.from}->${tr.to}`),
      ['unknown->healthy', 'healthy->unhealthy', 'unhealthy->healthy'],
    );
    assert.match(transitions[1]?.result.reason ?? '', /command test exited 1/);
    // Healthy again on the second success in a row (success_threshold), not on the first.
    assert.deepEqual((historyAt.get('unhealthy->healthy') ?? []).slice(0, 3), [true, true, false]);
  });

  it('gives a leased slot passive checks only: no command, no console opened', async (t) => {
    if (!requires(t, command('socat', ['-V']), command('flock', ['--version']))) return;
    const dir = tempDir(t);
    const pty = await ptyPair(t, dir);
    const fx = labFixture(
      t,
      dir,
      `[devices.console]\nkind = "serial"\npath = "${pty.device}"\nprobe = { send = "\\r", expect = "hubris>", timeout = "300ms" }\n` +
        `[devices.humility]\nkind = "command"\nargv = ["false"]\n[slots.a]\ntarget = "t"\ndevices = ["console", "humility"]\n`,
    );
    // A job holds the console open and locked; an active check would report it busy.
    await holdLock(t, pty.device);
    fx.db.update(slots).set({ usage: 'running' }).where(eq(slots.name, 'a')).run();

    const monitor = monitorFor(t, fx);
    const leased = await monitor.checkNow(['console', 'humility'], 'manual');
    assert.equal(leased.get('humility'), null, 'command checks are active: skipped on a leased slot');
    assert.equal(leased.get('console')?.ok, true);
    assert.match(leased.get('console')?.reason ?? '', /present$/);

    fx.db.update(slots).set({ usage: 'idle' }).where(eq(slots.name, 'a')).run();
    const idle = await monitor.checkNow(['console', 'humility'], 'manual');
    assert.match(idle.get('console')?.reason ?? '', /busy/);
    assert.equal(idle.get('humility')?.ok, false);
  });

  it('stops with checks in flight without waiting for them, and kills their programs', async (t) => {
    // The check's program runs 20.5 s and its timeout is an hour: a stop that waited for the check
    // instead of aborting it would not be done before the wait for it gives up (10 s).
    const fx = labFixture(
      t,
      tempDir(t),
      `[devices.slow]\nkind = "command"\ntimeout = "1h"\nargv = ["sleep", "20.5"]\n[slots.a]\ntarget = "t"\ndevices = ["slow"]\n`,
    );
    const store = new HealthStore(fx.db, fx.lab);
    const monitor = monitorFor(t, fx);
    monitor.start();
    await eventually(() => sleepers().length > 0, { timeoutMs: 3_000, message: 'the check program to run' });
    let stopped = false;
    void monitor.stop().then(() => (stopped = true));
    await eventually(() => stopped, { message: 'stop to finish: it waits for the check instead of aborting it' });
    assert.deepEqual(store.history('slow', 10), [], 'a check cut short by the stop says nothing about the device');
    await eventually(() => sleepers().length === 0, { timeoutMs: 2_000, message: 'the check program to be gone' });
  });
});

describe('health monitor failures', () => {
  it('survives a database that fails under it: the check is logged, nothing is thrown', async (t) => {
    const fx = labFixture(
      t,
      tempDir(t),
      `[devices.probe]\nkind = "command"\nargv = ["true"]\n[slots.a]\ntarget = "t"\ndevices = ["probe"]\n`,
    );
    const monitor = monitorFor(t, fx);
    assert.equal((await monitor.checkNow(['probe'], 'manual')).get('probe')?.ok, true);
    fx.db.$client.close();
    const afterwards = await monitor.checkNow(['probe'], 'manual');
    assert.equal(afterwards.get('probe'), null);
  });
});
