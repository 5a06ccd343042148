// The health monitor with real checks (programs, PTYs): sweeps run in
// parallel, thresholds move devices in and out of health on their own, and a
// leased slot's devices only get passive checks.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
        return !/^\d+ \(.*\) [ZX] /.test(stat) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u000020.5\u0000';
      } catch {
        return false;
      }
    });
}

function monitorFor(t: Parameters<typeof tempDir>[0], fx: LabFixture, onTransition?: (tr: Transition) => void): HealthMonitor {
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
  it('runs a sweep in parallel: it takes as long as the slowest check, not the sum', async (t) => {
    const dir = tempDir(t);
    const devices = Array.from({ length: 6 }, (_, i) => `[devices.slow-${i}]\nkind = "command"\nargv = ["sleep", "0.6"]\n`).join('');
    const fx = labFixture(t, dir, `${devices}[slots.a]\ntarget = "t"\ndevices = [${Array.from({ length: 6 }, (_, i) => `"slow-${i}"`).join(', ')}]\n`);
    const monitor = monitorFor(t, fx);
    const started = performance.now();
    const results = await monitor.checkNow([...fx.lab.devices.keys()], 'manual');
    const elapsed = performance.now() - started;
    assert.equal(results.size, 6);
    assert.ok([...results.values()].every((r) => r?.ok === true));
    assert.ok(elapsed < 1_800, `sweep took ${elapsed.toFixed(0)} ms; six 600 ms checks in sequence would take 3600`);
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
    const monitor = monitorFor(t, fx, (tr) => transitions.push(tr));
    const store = new HealthStore(fx.db, fx.lab);
    monitor.start();
    await eventually(() => store.states(['probe']).get('probe') === 'healthy', { timeoutMs: 3_000, message: 'healthy' });

    rmSync(flag);
    const removedAt = Date.now();
    await eventually(() => store.states(['probe']).get('probe') === 'unhealthy', { timeoutMs: 3_000, message: 'unhealthy' });
    const tookDown = Date.now() - removedAt;
    // Three failing checks at ~150 ms intervals: not on the first failure.
    assert.ok(tookDown >= 250, `unhealthy after ${tookDown} ms, before three failures could have happened`);
    const failures = store.history('probe', 10).filter((h) => !h.ok).length;
    assert.ok(failures >= 3, `only ${failures} failures recorded`);

    writeFileSync(flag, '');
    await eventually(() => store.states(['probe']).get('probe') === 'healthy', { timeoutMs: 3_000, message: 'healthy again' });
    assert.deepEqual(
      transitions.map((tr) => `${tr.from}->${tr.to}`),
      ['unknown->healthy', 'healthy->unhealthy', 'unhealthy->healthy'],
    );
    assert.match(transitions[1]?.result.reason ?? '', /command test exited 1/);
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

  it('stops promptly even with checks in flight, and kills their programs', async (t) => {
    const fx = labFixture(t, tempDir(t), `[devices.slow]\nkind = "command"\nargv = ["sleep", "20.5"]\n[slots.a]\ntarget = "t"\ndevices = ["slow"]\n`);
    const monitor = monitorFor(t, fx);
    monitor.start();
    await eventually(() => sleepers().length > 0, { timeoutMs: 3_000, message: 'the check program to run' });
    const started = performance.now();
    await monitor.stop();
    assert.ok(performance.now() - started < 1_000, 'stop aborts running checks');
    await eventually(() => sleepers().length === 0, { timeoutMs: 2_000, message: 'the check program to be gone' });
  });
});

describe('health monitor failures', () => {
  it('survives a database that fails under it: the check is logged, nothing is thrown', async (t) => {
    const fx = labFixture(t, tempDir(t), `[devices.probe]\nkind = "command"\nargv = ["true"]\n[slots.a]\ntarget = "t"\ndevices = ["probe"]\n`);
    const monitor = monitorFor(t, fx);
    assert.equal((await monitor.checkNow(['probe'], 'manual')).get('probe')?.ok, true);
    fx.db.$client.close();
    const afterwards = await monitor.checkNow(['probe'], 'manual');
    assert.equal(afterwards.get('probe'), null);
  });
});
