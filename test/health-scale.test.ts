// Scale: a sweep of 64 slots × 4 real devices (PTY consoles with responders,
// IPv6 targets in a namespace, command checks) all pass, and their checks run
// side by side, not in sequence (how long a sweep takes is bench/health-sweep.ts).
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
  it('sweeps 64 slots × 4 devices with their checks running side by side', { timeout: 120_000 }, async (t) => {
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
    const results = await monitor.checkNow(devices, 'manual');
    const failed = [...results].filter(([, r]) => r?.ok !== true);
    assert.deepEqual(
      failed.map(([d, r]) => `${d}: ${r?.reason ?? 'skipped'}`),
      [],
    );
    const slowest = Math.max(...[...results.values()].map((r) => r?.durationMs ?? 0));
    for (const kind of ['console', 'net', 'quick', 'probe']) {
      const ms = [...results]
        .filter(([d]) => d.startsWith(`${kind}-`))
        .map(([, r]) => r?.durationMs ?? 0)
        .sort((a, b) => a - b);
      t.diagnostic(`${kind}: median ${ms[ms.length >> 1] ?? 0} ms, max ${ms.at(-1) ?? 0} ms`);
    }
    // From the results the agent recorded (each check's end and duration; the figure itself belongs in
    // bench/health-sweep.ts): how many checks were running at once. Checks in sequence would never overlap,
    // since a check is recorded before the next one starts.
    const store = new HealthStore(fx.db, fx.lab);
    const spans = devices
      .map((d) => store.history(d, 1)[0])
      .map((r) => ({ start: (r?.at ?? 0) - (r?.durationMs ?? 0), end: r?.at ?? 0 }));
    const running = Math.max(
      ...spans.map(({ start }) => spans.filter((s) => s.start <= start && start < s.end).length),
    );
    t.diagnostic(
      `slowest single check ${slowest} ms; at most ${running} checks running at once (concurrency ${fx.lab.config.health.concurrency})`,
    );
    assert.ok(
      running >= devices.length / 4,
      `at most ${running} of the sweep's ${devices.length} checks ran at the same time`,
    );
  });
});
