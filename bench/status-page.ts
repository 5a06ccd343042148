// Benchmark: how fast the agent serves the status page, a slot page, the slot
// JSON and /metrics for a host with many slots and a full day of history.
// Each device gets `[health] history` (500) results spread over the last 24 h
// and each slot 20 events, written straight into the state database before a
// real agent process starts on it; then every page is fetched sequentially
// over loopback and the p50/p99 latency and size are printed.
//
//   npm run build && npx tsx bench/status-page.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordEvent } from '../src/db/event-log.js';
import { openDatabase } from '../src/db/open-database.js';
import { checkResults } from '../src/db/schema.js';
import { startAgent } from '../test/helpers/agent-process.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';

const SIZES = [16, 128];
const DEVICES_PER_SLOT = 5;
const HISTORY = 500;
const REQUESTS = 40;
const DAY_MS = 24 * 3_600_000;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

function labToml(slots: number): string {
  const parts = ['[health]\ninterval = "1h"\nmin_free_disk = "1MiB"\nmin_available_memory = "1MiB"\n'];
  for (let s = 0; s < slots; s++) {
    const devices = Array.from({ length: DEVICES_PER_SLOT }, (_, d) => `dev-${s}-${d}`);
    for (const device of devices) parts.push(`[devices.${device}]\nkind = "command"\nargv = ["true"]\n`);
    parts.push(`[slots.slot-${s}]\ntarget = "target-${s % 4}"\ndevices = ${JSON.stringify(devices)}\n`);
  }
  return parts.join('');
}

/** A day of results per device (every 20th failing) and 20 events per slot. */
function fillHistory(stateDir: string, slots: number): void {
  const db = openDatabase({ stateDir });
  const now = Date.now();
  db.transaction((tx) => {
    for (let s = 0; s < slots; s++) {
      for (let d = 0; d < DEVICES_PER_SLOT; d++) {
        const rows = Array.from({ length: HISTORY }, (_, i) => ({
          device: `dev-${s}-${d}`,
          at: now - DAY_MS + Math.floor((i * DAY_MS) / HISTORY),
          ok: i % 20 !== 0,
          reason: i % 20 !== 0 ? 'command exited 0' : 'command exited 1',
          durationMs: 2 + (i % 37),
          trigger: 'interval',
        }));
        for (let i = 0; i < rows.length; i += 100)
          tx.insert(checkResults)
            .values(rows.slice(i, i + 100))
            .run();
      }
      for (let e = 0; e < 20; e++)
        recordEvent(
          tx,
          { type: 'slot.checked', slot: `slot-${s}`, message: `slot-${s} checked on request` },
          now - e * 60_000,
        );
    }
  });
  db.$client.close();
}

/** The agent checks every device once at start; measuring during that sweep would time the sweep. */
async function firstSweep(url: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { slots } = (await (await fetch(`${url}/v1/slots`, { signal: AbortSignal.timeout(30_000) })).json()) as {
      slots: { devices: { health: string }[] }[];
    };
    if (slots.every((s) => s.devices.every((d) => d.health !== 'unknown'))) return;
    if (Date.now() > deadline) throw new Error('the first health sweep did not finish within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function timePath(
  url: string,
  path: string,
): Promise<{ p50: number; p99: number; bytes: number; status: number }> {
  const times: number[] = [];
  let bytes = 0;
  let status = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(30_000) });
    bytes = (await response.arrayBuffer()).byteLength;
    status = response.status;
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), bytes, status };
}

async function main(): Promise<void> {
  console.log(
    `status page benchmark: ${DEVICES_PER_SLOT} devices per slot, ${HISTORY} results each over 24 h, ${REQUESTS} sequential requests per path`,
  );
  console.log('slots  path                 status   p50 ms   p99 ms   KiB');
  for (const slots of SIZES) {
    const cleanup = scriptCleanup();
    const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-'));
    cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
    try {
      const config = join(dir, 'slots.toml');
      const stateDir = join(dir, 'state');
      writeFileSync(config, labToml(slots));
      fillHistory(stateDir, slots);
      const agent = await startAgent(cleanup, { config, stateDir, timeoutMs: 60_000 });
      await firstSweep(agent.url);
      for (const path of ['/', '/slots/slot-0', '/v1/slots', '/metrics']) {
        const r = await timePath(agent.url, path);
        console.log(
          `${String(slots).padStart(5)}  ${path.padEnd(20)} ${String(r.status).padStart(6)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${(r.bytes / 1024).toFixed(0).padStart(5)}`,
        );
      }
      await agent.stop();
    } finally {
      await cleanup.runAll();
    }
  }
}

await main();
