// Scale: a sweep of 64 slots × 4 real devices (PTY consoles with responders,
// IPv6 targets in a namespace, command checks) finishes within twice its
// slowest single check, because checks run in parallel, not in sequence.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeviceChecker } from '../src/devices/device-checker.js';
import { checkModeFor } from '../src/health/check-mode.js';
import { HealthMonitor } from '../src/health/health-monitor.js';
import { HealthStore } from '../src/health/health-store.js';
import { createLogger } from '../src/log.js';
import { labFixture } from './helpers/lab-fixture.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { scaleLabToml } from './helpers/scale-lab.js';
import { tempDir } from './helpers/temp-dir.js';

describe('health at scale', () => {
  it('sweeps 64 slots × 4 devices within 2× the slowest check', { timeout: 120_000 }, async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('ip', ['-V']), command('ping', ['-V']))) return;
    const dir = tempDir(t);
    const fx = labFixture(t, dir, await scaleLabToml(t, dir, 64));
    const log = createLogger(process.stderr);
    log.level = 'warn';
    const monitor = new HealthMonitor({
      lab: fx.lab,
      store: new HealthStore(fx.db, fx.lab),
      checker: new DeviceChecker(fx.lab, () => Promise.resolve([])),
      log,
      modeOf: (device) => checkModeFor(fx.lab, fx.db, device),
    });
    t.after(() => monitor.stop());

    const devices = [...fx.lab.devices.keys()];
    assert.equal(devices.length, 256);
    const started = performance.now();
    const results = await monitor.checkNow(devices, 'manual');
    const sweepMs = performance.now() - started;
    const failed = [...results].filter(([, r]) => r?.ok !== true);
    assert.deepEqual(failed.map(([d, r]) => `${d}: ${r?.reason ?? 'skipped'}`), []);
    const slowest = Math.max(...[...results.values()].map((r) => r?.durationMs ?? 0));
    for (const kind of ['console', 'net', 'quick', 'probe']) {
      const ms = [...results].filter(([d]) => d.startsWith(`${kind}-`)).map(([, r]) => r?.durationMs ?? 0).sort((a, b) => a - b);
      t.diagnostic(`${kind}: median ${ms[ms.length >> 1] ?? 0} ms, max ${ms.at(-1) ?? 0} ms`);
    }
    t.diagnostic(`sweep of 256 devices: ${sweepMs.toFixed(0)} ms; slowest single check ${slowest} ms`);
    assert.ok(sweepMs <= 2 * slowest, `sweep took ${sweepMs.toFixed(0)} ms, more than twice the slowest check (${slowest} ms)`);
  });
});
