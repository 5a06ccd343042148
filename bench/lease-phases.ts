// The per-step timings a lease logs at its end (src/jobs/lease-clock.ts), as
// a table of medians for bench/lease.ts: one row per step, one column per run.
import { percentile } from './percentiles.js';

export type LeaseSteps = Record<string, number>;

/** Steps in the order a lease takes them; any step not listed follows, by name. */
const ORDER = [
  'queued',
  'check',
  'setup.record',
  'setup.policy',
  'setup.user',
  'setup.network',
  'setup.disk',
  'setup.grants',
  'start',
  'record.running',
  'run',
  'record.cleaning',
  'cleanup.kill',
  'cleanup.outputs',
  'cleanup.disk',
  'cleanup.cgroups',
  'cleanup.network',
  'cleanup.grants',
  'cleanup.user',
  'cleanup.files',
  'record.idle',
  'total',
];

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** `runs`: column name → the leases of that run. */
export function phaseTable(runs: Record<string, readonly LeaseSteps[]>): string {
  const names = new Set(Object.values(runs).flatMap((leases) => leases.flatMap((l) => Object.keys(l))));
  const steps = [...ORDER.filter((s) => names.has(s)), ...[...names].filter((s) => !ORDER.includes(s)).sort()];
  const columns = Object.keys(runs);
  const lines = [`${'step'.padEnd(16)} | ${columns.map((c) => c.padStart(12)).join(' | ')}`];
  for (const step of steps) {
    const cells = columns.map((c) => {
      const values = (runs[c] ?? []).flatMap((l) => (l[step] === undefined ? [] : [l[step]]));
      return (values.length === 0 ? '-' : median(values).toFixed(1)).padStart(12);
    });
    lines.push(`${step.padEnd(16)} | ${cells.join(' | ')}`);
  }
  return lines.join('\n');
}
