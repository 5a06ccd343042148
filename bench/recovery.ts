// Benchmark: how long a wedged testbed stays out of rotation when labslot
// recovers it by power cycle (DESIGN §9), in the emulated lab of the recovery
// tests (test/helpers/recovery-lab.ts): a real agent, a real pdudaemon whose
// localcmdline outlet commands switch a board's power, and a PTY console that
// answers one second after its outlet is back on. Each run silences the console
// and times, from the agent's events and the board's view of its outlet:
//   detection   console silent -> recovery.started (the check interval, the probe's timeout)
//   power cycle recovery.started -> the outlet back on (pdudaemon's off, its 1 s delay, on)
//   boot wait   outlet on -> end of [recovery] boot_wait (the slot.power event + boot_wait: pdudaemon answers
//               a reboot once its off, delay and on are done, and the agent then waits boot_wait)
//   re-check    end of boot wait -> recovery.succeeded (slot back in rotation)
// Needs root, pdudaemon and socat.
//
//   npm run bench:recovery              # 5 runs
//   npm run bench:recovery -- --runs 10
import { cpus, release } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from './percentiles.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { eventually } from '../test/helpers/eventually.js';
import { boardOf, recoveryLab } from '../test/helpers/recovery-lab.js';

const INTERVAL = '2s';
const BOOT_WAIT_MS = 3_000;
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;

interface Run {
  detection: number;
  powerCycle: number;
  bootWait: number;
  recheck: number;
  total: number;
}

async function main(): Promise<void> {
  const cleanup = scriptCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-recovery-'));
  cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
  const runs: Run[] = [];
  try {
    const lab = await recoveryLab(cleanup, dir, [{ name: 'bench-1', target: 'bench' }], {
      health: { interval: INTERVAL, failureThreshold: 1 },
      // Every run is a round and two health changes: neither bound may end the bench.
      recoveryToml: `boot_wait = "${BOOT_WAIT_MS / 1000}s"\nmax_attempts = 100\nflap_threshold = 1000`,
    });
    const board = boardOf(lab, 'bench-1');
    let lastId = 0;
    for (let run = 1; run <= RUNS; run += 1) {
      // A random phase against the check interval, as a real hang has.
      await sleep(Math.random() * 2_000);
      const switchesBefore = board.switches().length;
      const silent = Date.now();
      board.wedge();
      const succeeded = await lab.waitEvent('bench-1', 'recovery.succeeded', { afterId: lastId, timeoutMs: 60_000 });
      const events = (await lab.events('bench-1')).filter((e) => e.id > lastId && e.id <= succeeded.id);
      const at = (type: string): number => {
        const event = events.find((e) => e.type === type);
        if (event === undefined) throw new Error(`run ${run}: no ${type} event`);
        return Date.parse(event.at);
      };
      const on = board
        .switches()
        .slice(switchesBefore)
        .find((s) => s.action === 'on');
      if (on === undefined) throw new Error(`run ${run}: the outlet was not switched on again`);
      const started = at('recovery.started');
      const bootWaitEnd = at('slot.power') + BOOT_WAIT_MS;
      const done = Date.parse(succeeded.at);
      runs.push({
        detection: started - silent,
        powerCycle: on.at - started,
        bootWait: bootWaitEnd - on.at,
        recheck: done - bootWaitEnd,
        total: done - silent,
      });
      lastId = succeeded.id;
      await eventually(async () => (await lab.slot('bench-1')).available, {
        timeoutMs: 20_000,
        message: 'the slot available again',
      });
      console.error(`run ${run}/${RUNS}: ${(done - silent).toFixed(0)} ms`);
    }
  } finally {
    await cleanup.runAll();
  }
  const line = (label: string, values: number[]): string => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${label.padEnd(12)} p50 ${percentile(sorted, 50).toFixed(0).padStart(6)} ms   max ${(sorted.at(-1) ?? NaN).toFixed(0).padStart(6)} ms`;
  };
  const cpu = cpus();
  console.log(`labslot recovery by power cycle, ${runs.length} runs`);
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, kernel ${release()}, node ${process.version}`,
  );
  console.log(
    `command: npm run bench:recovery${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  );
  console.log(
    `lab: [health] interval ${INTERVAL}, failure_threshold 1, success_threshold 1; probe timeout 1s; ` +
      `pdudaemon cycle delay 1s; board boot 1s; [recovery] boot_wait ${BOOT_WAIT_MS / 1000}s`,
  );
  console.log(
    line(
      'detection',
      runs.map((r) => r.detection),
    ),
  );
  console.log(
    line(
      'power cycle',
      runs.map((r) => r.powerCycle),
    ),
  );
  console.log(
    line(
      'boot wait',
      runs.map((r) => r.bootWait),
    ),
  );
  console.log(
    line(
      're-check',
      runs.map((r) => r.recheck),
    ),
  );
  console.log(
    line(
      'total',
      runs.map((r) => r.total),
    ),
  );
}

await main();
