// What a job's own disk ([jobs] limits.disk) adds to its lease: fallocate,
// mkfs.ext4 and a loop mount at setup, umount and delete at cleanup, timed
// through the same functions the agent uses, at the default cap and a small
// one. Prints p50/p99 of each. Needs root, e2fsprogs and loop devices.
//
//   npx tsx bench/worker-disk.ts
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorkerDisk, releaseWorkerDisk } from '../src/platform/linux/worker-disk.js';

const RUNS = 30;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${label}: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`;
}

const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-disk-'));
try {
  for (const [name, bytes] of [
    ['4GiB (default)', 4 * 2 ** 30],
    ['8MiB', 8 * 2 ** 20],
  ] as const) {
    const create: number[] = [];
    const release: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const root = join(dir, `w${i}`);
      mkdirSync(root);
      const disk = { mountPoint: join(root, 'disk'), image: join(root, 'disk.img') };
      let start = performance.now();
      await createWorkerDisk(disk, bytes);
      create.push(performance.now() - start);
      start = performance.now();
      await releaseWorkerDisk(disk);
      release.push(performance.now() - start);
      rmSync(root, { recursive: true });
    }
    console.log(
      `${name}, ${RUNS} runs: ${summary('setup (fallocate + mkfs + mount)', create)}; ${summary('cleanup (umount + delete)', release)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
