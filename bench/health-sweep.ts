// Benchmark: one health sweep over 16, 64 and 256 real devices (PTY consoles
// with responders, IPv6 targets in a network namespace, command checks).
// Prints sweep wall time, the agent's own CPU time per sweep, the CPU time of
// the programs it ran, and peak RSS. Each size runs in a fresh process so its
// peak RSS is its own. Needs root (network namespace), socat and ping.
//
//   npx tsx bench/health-sweep.ts            # all sizes
//   npx tsx bench/health-sweep.ts --size 64  # one size, JSON line
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../src/db/open-database.js';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import { DeviceChecker } from '../src/devices/device-checker.js';
import { checkModeFor } from '../src/health/check-mode.js';
import { HealthMonitor } from '../src/health/health-monitor.js';
import { HealthStore } from '../src/health/health-store.js';
import { createLogger } from '../src/log.js';
import { ensureSlotRows } from '../src/slots/slot-states.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { DEVICES_PER_SLOT, scaleLabToml } from '../test/helpers/scale-lab.js';
import { writeFileSync } from 'node:fs';

const SIZES = [16, 64, 256];
const SWEEPS = 5;
const TICKS_PER_SECOND = 100;

interface Figures {
  devices: number;
  sweepMsMedian: number;
  sweepMsMax: number;
  slowestCheckMs: number;
  agentCpuMsPerSweep: number;
  childCpuMsPerSweep: number;
  peakRssMiB: number;
}

/** CPU time of reaped children (cutime + cstime), from /proc/self/stat, in ms. */
function childCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND;
}

async function measure(devices: number): Promise<Figures> {
  const cleanup = scriptCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-'));
  cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const file = join(dir, 'slots.toml');
    writeFileSync(file, await scaleLabToml(cleanup, dir, devices / DEVICES_PER_SLOT));
    const lab = loadLabConfig(file, { stateDir: join(dir, 'state') });
    const db = openDatabase({ stateDir: lab.stateDir });
    cleanup.after(() => db.$client.close());
    ensureSlotRows(db, [...lab.slots.keys()]);
    const log = createLogger(process.stderr);
    log.level = 'warn';
    const monitor = new HealthMonitor({
      lab,
      store: new HealthStore(db, lab),
      checker: new DeviceChecker(lab),
      log,
      modeOf: (d) => checkModeFor(lab, db, d),
    });
    cleanup.after(() => monitor.stop());

    const names = [...lab.devices.keys()];
    await monitor.checkNow(names, 'manual'); // warm-up: module loading, first opens
    const walls: number[] = [];
    let slowest = 0;
    const cpuBefore = process.cpuUsage();
    const childBefore = childCpuMs();
    for (let i = 0; i < SWEEPS; i++) {
      const started = performance.now();
      const results = await monitor.checkNow(names, 'manual');
      walls.push(performance.now() - started);
      const bad = [...results].filter(([, r]) => r?.ok !== true);
      if (bad.length > 0)
        throw new Error(
          `unhealthy in the bench lab: ${bad.map(([d, r]) => `${d}: ${r?.reason ?? 'skipped'}`).join('; ')}`,
        );
      slowest = Math.max(slowest, ...[...results.values()].map((r) => r?.durationMs ?? 0));
    }
    const cpu = process.cpuUsage(cpuBefore);
    walls.sort((a, b) => a - b);
    return {
      devices,
      sweepMsMedian: Math.round(walls[walls.length >> 1] ?? 0),
      sweepMsMax: Math.round(walls.at(-1) ?? 0),
      slowestCheckMs: slowest,
      agentCpuMsPerSweep: Math.round((cpu.user + cpu.system) / 1000 / SWEEPS),
      childCpuMsPerSweep: Math.round((childCpuMs() - childBefore) / SWEEPS),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await cleanup.runAll();
  }
}

const sizeFlag = process.argv.indexOf('--size');
if (sizeFlag >= 0) {
  const figures = await measure(Number(process.argv[sizeFlag + 1]));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  // Responders and timers of the lab are gone; do not wait for stragglers.
  process.exit(0);
} else {
  const self = fileURLToPath(import.meta.url);
  const rows: Figures[] = [];
  for (const size of SIZES) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', self, '--size', String(size)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 300_000,
    });
    if (run.status !== 0) throw new Error(`size ${size} failed with ${run.status ?? run.signal}`);
    rows.push(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Figures);
  }
  console.log(
    `health sweep, ${SWEEPS} sweeps per size after a warm-up; devices = 1/4 PTY consoles (active probe), 1/4 IPv6 pings, 1/4 \`true\`, 1/4 \`sleep 0.3\``,
  );
  console.log('devices  sweep median  sweep max  slowest check  agent CPU/sweep  child CPU/sweep  peak RSS');
  for (const r of rows) {
    console.log(
      `${String(r.devices).padStart(7)}  ${`${r.sweepMsMedian} ms`.padStart(12)}  ${`${r.sweepMsMax} ms`.padStart(9)}  ${`${r.slowestCheckMs} ms`.padStart(13)}  ${`${r.agentCpuMsPerSweep} ms`.padStart(15)}  ${`${r.childCpuMsPerSweep} ms`.padStart(15)}  ${`${r.peakRssMiB} MiB`.padStart(8)}`,
    );
  }
}
