// Benchmark: the core loop through a real agent process. For 1 and 8 slots
// (each a PTY console plus a `true` command check, so every pre-lease check
// opens the console and runs a program):
//   - latency from POST /v1/jobs to the first byte of the job's output
//     (`echo`), one job at a time: p50 and p99;
//   - sustained throughput of trivial jobs (`true`) submitted all at once:
//     jobs per second from the first submission to the last job done.
// Every job gets its own user, device grants and cleanup. Needs root and socat.
//
//   npm run build && npm run bench:lease   (the agent runs from dist/, like an installed one)
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../test/helpers/agent-process.js';
import { measureFloor } from './lease-floor.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { ptyPair } from '../test/helpers/pty-pair.js';

const SUBMITTER = 'bench-submitter';
const LATENCY_SAMPLES = 40;
const THROUGHPUT_JOBS = 80;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function api<T>(url: string, method: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${SUBMITTER}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function waitAllDone(base: string, ids: readonly string[]): Promise<void> {
  const want = new Set(ids);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const { jobs } = await api<{ jobs: { id: string; done: boolean; state: string; end_reason: string | null }[] }>(
      `${base}/v1/jobs?limit=1000`,
      'GET',
    );
    const mine = jobs.filter((j) => want.has(j.id));
    const bad = mine.filter((j) => j.done && j.state !== 'succeeded');
    if (bad.length > 0) throw new Error(`jobs failed: ${JSON.stringify(bad.slice(0, 3))}`);
    if (mine.length === want.size && mine.every((j) => j.done)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('jobs not done within 300 s');
}

async function measure(
  slots: number,
): Promise<{ slots: number; p50: number; p99: number; max: number; jobsPerSecond: number }> {
  const cleanup = scriptCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-'));
  chmodSync(dir, 0o755);
  cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
  try {
    let toml = `[agent]\nname = "bench"\n[auth]\nsubmitters = ["${sha256(SUBMITTER)}"]\n[health]\ninterval = "30s"\n[jobs]\nstop_grace = "2s"\n`;
    toml += '[devices.ok]\nkind = "command"\nargv = ["true"]\n';
    for (let i = 1; i <= slots; i += 1) {
      const pty = await ptyPair(cleanup, dir, `s${i}`);
      toml += `[devices.s${i}-con]\nkind = "serial"\npath = "${pty.device}"\n`;
      toml += `[devices.s${i}-check]\nkind = "command"\nargv = ["true"]\n`;
    }
    for (let i = 1; i <= slots; i += 1)
      toml += `[slots.s${i}]\ntarget = "tb"\ndevices = ["s${i}-con", "s${i}-check"]\nadd_to_groups = ["dialout"]\n`;
    const config = join(dir, 'slots.toml');
    writeFileSync(config, toml);
    const agent = await startAgent(cleanup, { config, stateDir: join(dir, 'state'), timeoutMs: 30_000 });
    const base = agent.url;
    // Wait until every slot has been checked once.
    for (;;) {
      const { slots: views } = await api<{ slots: { health: string }[] }>(`${base}/v1/slots`, 'GET');
      if (views.every((s) => s.health === 'healthy')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Latency: submit, then read the output stream until its first byte.
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES + 3; i += 1) {
      const started = performance.now();
      const { id } = await api<{ id: string }>(`${base}/v1/jobs`, 'POST', {
        target: 'tb',
        argv: ['echo', 'first byte'],
      });
      const response = await fetch(`${base}/v1/jobs/${id}/output?follow=1`, {
        headers: { authorization: `Bearer ${SUBMITTER}` },
        signal: AbortSignal.timeout(30_000),
      });
      const reader = response.body?.getReader();
      const first = await reader?.read();
      const took = performance.now() - started;
      if (!first || first.done) throw new Error(`job ${id} produced no output`);
      while (!(await reader?.read())?.done);
      // The first three warm up the agent's JIT and caches.
      if (i >= 3) latencies.push(took);
    }
    latencies.sort((a, b) => a - b);

    // Throughput: everything at once, through every slot.
    const started = performance.now();
    const ids = await Promise.all(
      Array.from({ length: THROUGHPUT_JOBS }, () =>
        api<{ id: string }>(`${base}/v1/jobs`, 'POST', { target: 'tb', argv: ['true'] }).then((r) => r.id),
      ),
    );
    await waitAllDone(base, ids);
    const seconds = (performance.now() - started) / 1000;
    await agent.stop();
    return {
      slots,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      jobsPerSecond: THROUGHPUT_JOBS / seconds,
    };
  } finally {
    await cleanup.runAll();
  }
}

const rows = [];
for (const slots of [1, 8]) rows.push(await measure(slots));
// The same machine, the same minute: the bare work of a job, without labslot (bench/lease-floor.ts).
const floor = await measureFloor(LATENCY_SAMPLES, THROUGHPUT_JOBS, 8);
console.log(
  `labslot lease benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
);
console.log(
  `latency: POST /v1/jobs to the first output byte, ${LATENCY_SAMPLES} sequential jobs; throughput: ${THROUGHPUT_JOBS} \`true\` jobs submitted at once`,
);
console.log('slots | p50 ms | p99 ms | max ms | jobs/s');
for (const r of rows)
  console.log(
    `${String(r.slots).padStart(5)} | ${r.p50.toFixed(0).padStart(6)} | ${r.p99.toFixed(0).padStart(6)} | ${r.max.toFixed(0).padStart(6)} | ${r.jobsPerSecond.toFixed(1).padStart(6)}`,
  );
const [one, eight] = rows;
console.log(
  `floor (useradd, bwrap --unshare-pid setpriv --init-groups --no-new-privs true, userdel): p50 ${floor.p50Ms.toFixed(0)} ms one at a time, ${floor.jobsPerSecond.toFixed(1)} jobs/s ${floor.parallel} at a time`,
);
if (one !== undefined && eight !== undefined)
  console.log(
    `ratios: p50 1 slot / floor p50 = ${(one.p50 / floor.p50Ms).toFixed(2)} (goal <= 1.3); ` +
      `8 slots jobs/s / floor 8 at a time = ${(eight.jobsPerSecond / floor.jobsPerSecond).toFixed(2)} (goal >= 0.7); ` +
      `8 slots / 1 slot = ${(eight.jobsPerSecond / one.jobsPerSecond).toFixed(2)} (goal >= 2.5)`,
  );
