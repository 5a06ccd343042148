// Benchmark: how fast `labslot agent` takes a slot out of rotation when its
// console adapter is unplugged, and puts it back when it is replugged, on the
// emulated USB bus of the tests (test/helpers/usb-cli-lab.ts: a QEMU TCG
// guest with two probes and an FTDI console, health interval 60 s). For each
// cycle the host unplugs the console over QMP, the guest (bench/hotplug-guest.ts)
// times the adapter leaving the kernel to GET /v1/slots/sp answering
// 'unhealthy', the host replugs it, and the guest times its return to
// 'healthy'. Prints p50/p90/min/max of both, as the guest's clock saw them,
// and what triggered the deciding check. Figures from inside TCG are far
// slower than on a real lab host and vary with the load on the machine; compare
// them only with runs on the same machine. Needs root, QEMU and the packages
// of the USB tests (DESIGN §6).
//
//   npm run build && npm run bench:hotplug                     # 10 cycles
//   npm run build && npm run bench:hotplug -- --cycles 20 --poll-ms 50
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HotplugGuestPlan } from './hotplug-guest.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { USB_LAB_PREREQUISITES } from '../test/helpers/qemu-usb-lab.js';
import { CONSOLE_ID, INTERVAL_S, startCliLab, waitForPhase } from '../test/helpers/usb-cli-lab.js';

const GUEST_SCRIPT = fileURLToPath(new URL('hotplug-guest.ts', import.meta.url));
const MIN_CYCLES = 10;

interface CycleReport {
  ms: number;
  trigger: string | null;
  gets: number;
  loggedMs: number | null;
  ttyMs?: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function row(label: string, values: readonly (number | null | undefined)[]): string {
  const known = values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  const cell = (v: number): string => v.toFixed(0).padStart(6);
  const missing = values.length - known.length;
  return `${label.padEnd(46)} | ${cell(percentile(known, 50))} | ${cell(percentile(known, 90))} | ${cell(known[0] ?? NaN)} | ${cell(known.at(-1) ?? NaN)}${missing > 0 ? `  (${missing} without a figure)` : ''}`;
}

function triggers(reports: readonly CycleReport[]): string {
  const counts = new Map<string, number>();
  for (const r of reports) counts.set(r.trigger ?? 'none', (counts.get(r.trigger ?? 'none') ?? 0) + 1);
  return [...counts].map(([trigger, n]) => `${trigger} ${n}`).join(', ');
}

const { values: args } = parseArgs({
  options: { cycles: { type: 'string', default: String(MIN_CYCLES) }, 'poll-ms': { type: 'string', default: '50' } },
});
const cycles = Number(args.cycles);
const pollMs = Number(args['poll-ms']);
if (!Number.isInteger(cycles) || cycles < MIN_CYCLES)
  throw new Error(`--cycles must be an integer of at least ${MIN_CYCLES}`);
if (!Number.isInteger(pollMs) || pollMs < 1) throw new Error('--poll-ms must be a positive integer');
const missing = USB_LAB_PREREQUISITES.filter((p) => !p.met()).map((p) => p.what);
if (missing.length > 0) throw new Error(`missing prerequisite: ${missing.join(', ')}`);

const cleanup = scriptCleanup();
const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
const detached: CycleReport[] = [];
const attached: CycleReport[] = [];
const hostDetachedMs: number[] = [];
const hostAttachedMs: number[] = [];
try {
  const extra: Pick<HotplugGuestPlan, 'cycles' | 'pollMs'> = { cycles, pollMs };
  // Boot and the agent's start, then each cycle at most two health intervals per change.
  const timeoutMs = 300_000 + cycles * (4 * INTERVAL_S * 1_000 + 20_000);
  const { lab } = await startCliLab(cleanup, { script: GUEST_SCRIPT, extra, timeoutMs });
  const ready = await waitForPhase<{ ms: number }>(lab, 'ready', 300_000);
  console.error(
    `guest program started ${((lab.timings.programMs ?? NaN) / 1000).toFixed(1)} s after QEMU; the agent was ready ${(ready.ms / 1000).toFixed(1)} s after its start`,
  );
  const changeWaitMs = 2 * INTERVAL_S * 1_000 + 30_000;
  for (let cycle = 0; cycle < cycles; cycle += 1) {
    const unplugged = performance.now();
    await lab.unplug(CONSOLE_ID);
    const out = await waitForPhase<CycleReport>(lab, `cycle-${cycle}-detached`, changeWaitMs);
    hostDetachedMs.push(performance.now() - unplugged);
    detached.push(out);
    const replugged = performance.now();
    await lab.replug(CONSOLE_ID);
    const back = await waitForPhase<CycleReport>(lab, `cycle-${cycle}-attached`, changeWaitMs);
    hostAttachedMs.push(performance.now() - replugged);
    attached.push(back);
    console.error(
      `cycle ${cycle + 1}/${cycles}: unhealthy after ${out.ms} ms (${out.trigger ?? '?'}), healthy after ${back.ms} ms (${back.trigger ?? '?'})`,
    );
  }
  const stopped = await waitForPhase<{ code: number | null; signal: string | null; stderr: string }>(
    lab,
    'stopped',
    120_000,
  );
  if (stopped.code !== 0)
    throw new Error(lab.explain(`the agent exited with ${stopped.code ?? stopped.signal ?? '?'} after SIGTERM`));
} finally {
  await cleanup.runAll();
}

console.log(
  `labslot hotplug benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average ${load} at the start`,
);
console.log(
  `QEMU TCG guest, one vCPU; health interval ${INTERVAL_S} s; ${cycles} cycles; the API polled every ${pollMs} ms in the guest`,
);
console.log(`${'ms'.padEnd(46)} |    p50 |    p90 |    min |    max`);
console.log(
  row(
    'unplug -> GET /v1/slots/sp says unhealthy',
    detached.map((r) => r.ms),
  ),
);
console.log(
  row(
    '  unplug -> agent logs the transition',
    detached.map((r) => r.loggedMs),
  ),
);
console.log(
  row(
    'replug -> GET /v1/slots/sp says healthy',
    attached.map((r) => r.ms),
  ),
);
console.log(
  row(
    '  replug -> agent logs the transition',
    attached.map((r) => r.loggedMs),
  ),
);
console.log(
  row(
    '  replug -> the tty is back',
    attached.map((r) => r.ttyMs),
  ),
);
console.log(row('host: QMP device_del -> the guest report read', hostDetachedMs));
console.log(row('host: QMP device_add -> the guest report read', hostAttachedMs));
console.log(`deciding check's trigger: unhealthy: ${triggers(detached)}; healthy: ${triggers(attached)}`);
