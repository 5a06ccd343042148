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
//   LABSLOT_BENCH_SLOTS=8 LABSLOT_BENCH_CPU_PROF=/tmp/prof npm run bench:lease   (one size, profiled)
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../test/helpers/agent-process.js';
import { measureFloor } from './lease-floor.js';
import { percentile } from './percentiles.js';
import { phaseTable, type LeaseSteps } from './lease-phases.js';
import { treeCpu } from './process-tree.js';
import { describeLoad, hostCpu, hostLoad, type HostLoad } from './host-cpu.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { ptyPair } from '../test/helpers/pty-pair.js';

/** LABSLOT_BENCH_CPU_PROF=DIR: the agent writes a V8 CPU profile there (Node refuses --cpu-prof in NODE_OPTIONS). */
const PROFILE_DIR = process.env['LABSLOT_BENCH_CPU_PROF'];
const PROFILER =
  PROFILE_DIR === undefined
    ? undefined
    : ['sh', '-c', 'node=$1; shift; exec "$node" --cpu-prof --cpu-prof-dir="$0" "$@"', PROFILE_DIR];
/** LABSLOT_BENCH_SLOTS=8: only that many slots (default: 1, then 8). */
const SLOT_COUNTS =
  process.env['LABSLOT_BENCH_SLOTS'] === undefined ? [1, 8] : [Number(process.env['LABSLOT_BENCH_SLOTS'])];
const SUBMITTER = 'bench-submitter';
const LATENCY_SAMPLES = 40;
const THROUGHPUT_JOBS = 80;
/** [jobs] prepare_ahead, on unless LABSLOT_BENCH_PREPARE_AHEAD=0: each busy slot's next worker is made while its job runs. */
const PREPARE_AHEAD = process.env['LABSLOT_BENCH_PREPARE_AHEAD'] !== '0';

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

/** Each finished lease's step timings, from the agent's last log line of the lease (src/jobs/lease-clock.ts). */
function leaseSteps(logs: readonly Record<string, unknown>[]): Map<string, LeaseSteps> {
  const byJob = new Map<string, LeaseSteps>();
  for (const line of logs)
    if (line['msg'] === 'lease phase' && line['to'] === 'done' && typeof line['job'] === 'string')
      byJob.set(line['job'], line['ms'] as LeaseSteps);
  return byJob;
}

/** Waits for the agent to log the end of every lease (no polling: the agent's work is what is measured), then checks the jobs. */
async function waitAllDone(
  base: string,
  logs: readonly Record<string, unknown>[],
  ids: readonly string[],
): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (ids.some((id) => !leaseSteps(logs).has(id))) {
    if (Date.now() > deadline) throw new Error('jobs not done within 300 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { jobs } = await api<{ jobs: { id: string; state: string; end_reason: string | null }[] }>(
    `${base}/v1/jobs?limit=1000`,
    'GET',
  );
  const want = new Set(ids);
  const bad = jobs.filter((j) => want.has(j.id) && j.state !== 'succeeded');
  if (bad.length > 0) throw new Error(`jobs failed: ${JSON.stringify(bad.slice(0, 3))}`);
}

interface Measured {
  slots: number;
  p50: number;
  p99: number;
  max: number;
  jobsPerSecond: number;
  /** Step timings of the sequential (latency) jobs and of the throughput jobs. */
  sequential: LeaseSteps[];
  concurrent: LeaseSteps[];
  /** CPU ms per throughput job: the agent itself and its children (tools, sandboxes, jobs). */
  cpuSelf: number;
  cpuHelpers: number;
  cpuChildren: number;
  /** The whole host during the throughput run. */
  host: HostLoad;
}

async function measure(slots: number): Promise<Measured> {
  const cleanup = scriptCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-'));
  chmodSync(dir, 0o755);
  cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
  try {
    let toml = `[agent]\nname = "bench"\n[auth]\nsubmitters = ["${sha256(SUBMITTER)}"]\n[health]\ninterval = "30s"\n[jobs]\nstop_grace = "2s"\nprepare_ahead = ${String(PREPARE_AHEAD)}\n`;
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
    const agent = await startAgent(cleanup, {
      config,
      stateDir: join(dir, 'state'),
      timeoutMs: 30_000,
      wrapper: PROFILER,
    });
    const base = agent.url;
    // Wait until every slot has been checked once.
    for (;;) {
      const { slots: views } = await api<{ slots: { health: string }[] }>(`${base}/v1/slots`, 'GET');
      if (views.every((s) => s.health === 'healthy')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Latency: submit, then read the output stream until its first byte.
    const latencies: number[] = [];
    const sequentialIds: string[] = [];
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
      if (i >= 3) {
        latencies.push(took);
        sequentialIds.push(id);
      }
    }
    latencies.sort((a, b) => a - b);

    // Throughput: everything at once, through every slot.
    const pid = agent.child.pid ?? 0;
    const cpuBefore = treeCpu(pid);
    const hostBefore = hostCpu();
    const started = performance.now();
    const ids = await Promise.all(
      Array.from({ length: THROUGHPUT_JOBS }, () =>
        api<{ id: string }>(`${base}/v1/jobs`, 'POST', { target: 'tb', argv: ['true'] }).then((r) => r.id),
      ),
    );
    await waitAllDone(base, agent.logs, ids);
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = treeCpu(pid);
    const host = hostLoad(hostBefore, hostCpu(), THROUGHPUT_JOBS);
    const steps = leaseSteps(agent.logs);
    const stepsOf = (list: readonly string[]): LeaseSteps[] =>
      list.flatMap((id) => {
        const found = steps.get(id);
        return found === undefined ? [] : [found];
      });
    await agent.stop();
    return {
      slots,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      jobsPerSecond: THROUGHPUT_JOBS / seconds,
      sequential: stepsOf(sequentialIds),
      concurrent: stepsOf(ids),
      cpuSelf: (cpuAfter.self - cpuBefore.self) / THROUGHPUT_JOBS,
      cpuHelpers: (cpuAfter.helpers - cpuBefore.helpers) / THROUGHPUT_JOBS,
      cpuChildren: (cpuAfter.children - cpuBefore.children) / THROUGHPUT_JOBS,
      host,
    };
  } finally {
    await cleanup.runAll();
  }
}

const rows = [];
for (const slots of SLOT_COUNTS) rows.push(await measure(slots));
// The same machine, the same minute: the bare work of a job, without labslot (bench/lease-floor.ts).
const floor = await measureFloor(LATENCY_SAMPLES, THROUGHPUT_JOBS, 8);
console.log(
  `labslot lease benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
);
console.log(`[jobs] prepare_ahead = ${String(PREPARE_AHEAD)} (LABSLOT_BENCH_PREPARE_AHEAD=0 to compare without)`);
console.log(
  `latency: POST /v1/jobs to the first output byte, ${LATENCY_SAMPLES} sequential jobs; throughput: ${THROUGHPUT_JOBS} \`true\` jobs submitted at once`,
);
console.log('slots | p50 ms | p99 ms | max ms | jobs/s');
for (const r of rows)
  console.log(
    `${String(r.slots).padStart(5)} | ${r.p50.toFixed(0).padStart(6)} | ${r.p99.toFixed(0).padStart(6)} | ${r.max.toFixed(0).padStart(6)} | ${r.jobsPerSecond.toFixed(1).padStart(6)}`,
  );
for (const r of rows)
  console.log(
    `agent CPU per job, ${r.slots} slot(s), throughput run: ${r.cpuSelf.toFixed(1)} ms in the agent, ${r.cpuHelpers.toFixed(1)} ms in its spawner, ${r.cpuChildren.toFixed(1)} ms in the programs they ran (tools, sandboxes, jobs); total ${(r.cpuSelf + r.cpuHelpers + r.cpuChildren).toFixed(1)} ms; the host: ${describeLoad(r.host)}`,
  );
for (const r of rows) {
  console.log(`\nwhere a lease's time goes, ${r.slots} slot(s) (median ms; steps in parallel overlap):`);
  console.log(phaseTable({ sequential: r.sequential, [`${THROUGHPUT_JOBS} at once`]: r.concurrent }));
}
const [one, eight] = rows;
console.log(
  `floor (useradd, bwrap --unshare-pid setpriv --init-groups --no-new-privs true, userdel): p50 ${floor.p50Ms.toFixed(0)} ms one at a time (${floor.sequentialJobsPerSecond.toFixed(1)} jobs/s), ${floor.jobsPerSecond.toFixed(1)} jobs/s ${floor.parallel} at a time, ${floor.cpuPerJobMs.toFixed(1)} ms CPU per job in its tools; the host ${floor.parallel} at a time: ${describeLoad(floor.host)}`,
);
console.log("the floor's useradd and userdel run at normal priority; labslot's at real-time where the host allows it");
// Context for the third ratio: what running 8 at a time gains the bare work itself on this machine.
console.log(
  `the floor itself: ${floor.parallel} at a time / one at a time = ${(floor.jobsPerSecond / floor.sequentialJobsPerSecond).toFixed(2)}`,
);
if (one !== undefined && eight !== undefined)
  console.log(
    `ratios: p50 1 slot / floor p50 = ${(one.p50 / floor.p50Ms).toFixed(2)} (goal <= 1.3); ` +
      `8 slots jobs/s / floor 8 at a time = ${(eight.jobsPerSecond / floor.jobsPerSecond).toFixed(2)} (goal >= 0.7); ` +
      `8 slots / 1 slot = ${(eight.jobsPerSecond / one.jobsPerSecond).toFixed(2)} (goal >= 2.5)`,
  );
