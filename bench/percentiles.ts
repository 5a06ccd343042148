// p50/p99 of a bench's timings, in the form every bench prints them. Several
// older benches still carry their own copy (bench/lease.ts, worker-disk.ts, ...).

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** "label: p50 12.3 ms, p99 45.6 ms" */
export function summary(label: string, values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${label}: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`;
}
