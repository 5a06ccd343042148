// Benchmark: a lab of several hosts on one PostgreSQL database (DESIGN §7),
// three agents on this machine standing in for its hosts, 8 slots each (PTY
// consoles, as the tests make them), next to one host alone on SQLite:
//   - submit → first output byte, sequential `echo` jobs: submitted to host A
//     for a target only host B serves and followed through A (cross-host), the
//     same through B itself, and a single SQLite host; p50/p99 and the ratio;
//   - sustained jobs/s lab-wide with 1, 2 and 3 hosts serving one target
//     (a fresh lab each), `true` jobs submitted at once, round-robin to every
//     host, until the last is done; the ratio to one host;
//   - claim wake-up: from a job's commit in lab_jobs to the claiming host's
//     slot.leased event, with the NOTIFY the agents' own submissions send, and
//     without it (the row inserted by hand), when the 1 s safety tick alone
//     finds it.
// Needs root, socat and the default PostgreSQL cluster (labDatabase()).
//
//   npm run build && npm run bench:lab   (the agents run from dist/, like installed ones)
//   npx tsx bench/lab.ts --hosts 2        (only the throughput of a lab of 2 hosts)
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { newJobId } from '../src/jobs/ids.js';
import { startAgent } from '../test/helpers/agent-process.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { SUBMITTER_TOKEN, submitJob, waitHealthy, type AgentUrl } from '../test/helpers/job-api.js';
import { agentToml, consoleDevices, slotTables, type SlotDef } from '../test/helpers/job-lab.js';
import { startLabHosts, type LabHosts } from '../test/helpers/lab-hosts.js';
import { labDatabase, type LabDatabase } from '../test/helpers/postgres.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { percentile } from './percentiles.js';

const SLOTS_PER_HOST = 8;
const WARM_UP = 3;
const LATENCY_SAMPLES = 40;
const WAKE_SAMPLES = 20;
const THROUGHPUT_JOBS = 240;
const QUEUE_CHANNEL = 'labslot_queue';
const FINAL = ['succeeded', 'failed', 'cancelled'];

type Cleanup = ReturnType<typeof scriptCleanup>;

/** Every cleanup not yet run: a failure or a signal runs them, newest first. */
const pending: Cleanup[] = [];

async function withCleanup<T>(fn: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = scriptCleanup();
  pending.push(cleanup);
  try {
    return await fn(cleanup);
  } finally {
    pending.splice(pending.indexOf(cleanup), 1);
    await cleanup.runAll();
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`);
    void (async () => {
      for (const cleanup of pending.reverse()) await cleanup.runAll();
      process.exit(130);
    })();
  });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function slots(prefix: string, target: string): SlotDef[] {
  return Array.from({ length: SLOTS_PER_HOST }, (_, i) => ({ name: `${prefix}-${i + 1}`, target }));
}

/** "p50 12 ms, p99 34 ms, min 5 ms" */
function figure(values: readonly number[], digits = 0): { p50: number; p99: number; text: string } {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const min = sorted[0] ?? NaN;
  return {
    p50,
    p99,
    text: `p50 ${p50.toFixed(digits)} ms, p99 ${p99.toFixed(digits)} ms, min ${min.toFixed(digits)} ms (n=${values.length})`,
  };
}

/** A client of the lab's database as its role, for what the bench reads (and writes by hand) there. */
async function labClient(cleanup: Cleanup, database: LabDatabase): Promise<pg.Client> {
  const url = new URL(database.url);
  const client = new pg.Client({
    host: url.hostname,
    port: Number(url.port),
    user: database.role,
    database: database.database,
    password: database.password,
  });
  client.on('error', () => undefined);
  await client.connect();
  cleanup.after(() => client.end());
  return client;
}

/** One host alone: no [lab], its jobs in SQLite. */
async function soloHost(cleanup: Cleanup, target: string): Promise<string> {
  const dir = tempDir(cleanup, 'labslot-bench-solo-');
  const defs = slots('solo', target);
  const devices = await consoleDevices(cleanup, dir, defs);
  const config = join(dir, 'slots.toml');
  writeFileSync(config, agentToml('solo') + devices.toml + slotTables(defs));
  const agent = await startAgent(cleanup, { config, stateDir: join(dir, 'state') });
  for (const slot of defs) await waitHealthy(agent.url, slot.name);
  return agent.url;
}

/** Submits an `echo` job and reads its followed output until the first byte; the time it took and the job. */
async function firstByte(
  submitTo: AgentUrl,
  followAt: string,
  target: string,
): Promise<{ ms: number; id: string; submittedAt: number }> {
  const submittedAt = Date.now();
  const started = performance.now();
  const id = await submitJob(submitTo, { target, argv: ['echo', 'first byte'] });
  const response = await fetch(`${followAt}/v1/jobs/${id}/output?follow=1`, {
    headers: { authorization: `Bearer ${SUBMITTER_TOKEN}` },
    signal: AbortSignal.timeout(30_000),
  });
  const reader = response.body?.getReader();
  const first = await reader?.read();
  const ms = performance.now() - started;
  if (first === undefined || first.done) throw new Error(`job ${id} produced no output through ${followAt}`);
  while (!(await reader?.read())?.done);
  return { ms, id, submittedAt };
}

/** Polls the lab's record until every job is final; their states by host, and the last one's end. */
async function labJobsDone(
  client: pg.Client,
  ids: readonly string[],
  timeoutMs = 300_000,
): Promise<{ lastEnd: number; byHost: Record<string, number> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ done: number; bad: number; last_end: string | null }>(
      `SELECT count(*) FILTER (WHERE state = ANY($2))::int AS done,
              count(*) FILTER (WHERE state IN ('failed', 'cancelled'))::int AS bad,
              max(ended_at) AS last_end
         FROM lab_jobs WHERE id = ANY($1)`,
      [ids, FINAL],
    );
    const row = rows[0];
    if (row !== undefined && row.bad > 0) {
      const failed = await client.query(
        `SELECT id, host, state, end_reason FROM lab_jobs WHERE id = ANY($1) AND state IN ('failed', 'cancelled') LIMIT 3`,
        [ids],
      );
      throw new Error(`jobs failed: ${JSON.stringify(failed.rows)}`);
    }
    if (row !== undefined && row.done === ids.length) {
      const hosts = await client.query<{ host: string; n: number }>(
        'SELECT host, count(*)::int AS n FROM lab_jobs WHERE id = ANY($1) GROUP BY host ORDER BY host',
        [ids],
      );
      return {
        lastEnd: Number(row.last_end),
        byHost: Object.fromEntries(hosts.rows.map((r) => [r.host, r.n])),
      };
    }
    if (Date.now() > deadline) {
      const stuck = await client.query(
        `SELECT id, host, state, slot, waiting, submitted_at, started_at, ended_at
           FROM lab_jobs WHERE id = ANY($1) AND state <> ALL($2) LIMIT 5`,
        [ids, FINAL],
      );
      throw new Error(`jobs not done within ${timeoutMs} ms (${row?.done ?? 0} done): ${JSON.stringify(stuck.rows)}`);
    }
    await sleep(50);
  }
}

/** Polls one agent's job list until every job is done (a host without a lab). */
async function soloJobsDone(url: string, ids: readonly string[]): Promise<number> {
  const want = new Set(ids);
  const deadline = Date.now() + 300_000;
  for (;;) {
    const response = await fetch(`${url}/v1/jobs?limit=1000`, {
      headers: { authorization: `Bearer ${SUBMITTER_TOKEN}` },
      signal: AbortSignal.timeout(30_000),
    });
    const { jobs } = (await response.json()) as {
      jobs: { id: string; done: boolean; state: string; ended_at: string | null }[];
    };
    const mine = jobs.filter((j) => want.has(j.id));
    const bad = mine.filter((j) => j.done && j.state !== 'succeeded');
    if (bad.length > 0) throw new Error(`jobs failed: ${JSON.stringify(bad.slice(0, 3))}`);
    if (mine.length === want.size && mine.every((j) => j.done))
      return Math.max(...mine.map((j) => Date.parse(j.ended_at ?? '')));
    if (Date.now() > deadline) throw new Error('jobs not done within 300 s');
    await sleep(50);
  }
}

/** Busy share of the machine's CPU time between two /proc/stat readings. */
function cpuTimes(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

interface Throughput {
  hosts: number;
  jobsPerSecond: number;
  seconds: number;
  cpuBusy: number;
  byHost: Record<string, number>;
}

/** `true` jobs submitted at once, round-robin over `urls`; from the first submission to the last job's end. */
async function throughput(
  urls: readonly string[],
  target: string,
  jobs: number,
  done: (ids: string[]) => Promise<{ lastEnd: number; byHost: Record<string, number> }>,
): Promise<Omit<Throughput, 'hosts'>> {
  const cpu = cpuTimes();
  const started = Date.now();
  const ids = await Promise.all(
    Array.from({ length: jobs }, (_, i) => submitJob(urls[i % urls.length] ?? '', { target, argv: ['true'] })),
  );
  const { lastEnd, byHost } = await done(ids);
  const after = cpuTimes();
  const seconds = (lastEnd - started) / 1000;
  return {
    jobsPerSecond: jobs / seconds,
    seconds,
    cpuBusy: (after.busy - cpu.busy) / (after.total - cpu.total),
    byHost,
  };
}

/** What the hosts logged about the jobs an error names. */
function explain(lab: LabHosts, error: unknown): void {
  const ids = new Set(String(error).match(/\bj[a-z2-9]{11}\b/g) ?? []);
  for (const host of lab.hosts)
    for (const entry of host.agent.logs)
      if ([...ids].some((id) => JSON.stringify(entry).includes(id)))
        console.error(`${host.name}: ${JSON.stringify(entry)}`);
}

/** A lab of `count` hosts (8 slots of one target each) on a fresh database: its throughput. */
async function labThroughput(count: number): Promise<Throughput> {
  return withCleanup(async (cleanup) => {
    const database = await labDatabase(cleanup);
    const lab = await startLabHosts(cleanup, {
      database,
      hosts: Array.from({ length: count }, (_, i) => ({ name: `host-${i + 1}`, slots: slots(`h${i + 1}`, 'pool') })),
    });
    const client = await labClient(cleanup, database);
    const urls = lab.hosts.map((h) => h.url);
    // Warm-up: every host runs a few jobs first (JIT, worker accounts' first use).
    await throughput(urls, 'pool', SLOTS_PER_HOST * count, (ids) => labJobsDone(client, ids));
    try {
      return { hosts: count, ...(await throughput(urls, 'pool', THROUGHPUT_JOBS, (ids) => labJobsDone(client, ids))) };
    } catch (error) {
      explain(lab, error);
      throw error;
    }
  });
}

/** The claiming host's slot.leased time of a job, from the lab's event log (waits until it has been pushed). */
async function leasedAt(client: pg.Client, id: string): Promise<{ at: number; host: string }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await client.query<{ at: string; host: string }>(
      `SELECT at, host FROM lab_events WHERE job_id = $1 AND type = 'slot.leased' ORDER BY id LIMIT 1`,
      [id],
    );
    const row = rows[0];
    if (row !== undefined) return { at: Number(row.at), host: row.host };
    if (Date.now() > deadline) throw new Error(`job ${id} was not leased within 30 s`);
    await sleep(10);
  }
}

/**
 * A job put in the lab's queue by hand, as enqueueLabJob() does it, with or
 * without its NOTIFY; the time its transaction committed (as the bench saw
 * COMMIT return).
 */
async function insertJob(client: pg.Client, target: string, notify: boolean): Promise<{ id: string; at: number }> {
  const id = newJobId();
  await client.query('BEGIN');
  const now = Date.now();
  await client.query(
    `INSERT INTO lab_jobs (id, submitted_via, target, argv, env, timeout_ms, priority, state, input, submitted_by, submitted_at)
     VALUES ($1, 'bench', $2, $3, '{}', 60000, 0, 'queued', 'none', 'bench', $4)`,
    [id, target, JSON.stringify(['echo', 'woken']), now],
  );
  await client.query(
    `INSERT INTO lab_events (host, at, type, job_id, actor, message, data)
     VALUES ('bench', $2, 'job.submitted', $1, 'bench', 'job ' || $1 || ' submitted by the bench', $3)`,
    [id, now, JSON.stringify({ target, priority: 0 })],
  );
  if (notify) await client.query('SELECT pg_notify($1, $2)', [QUEUE_CHANNEL, target]);
  await client.query('COMMIT');
  return { id, at: Date.now() };
}

async function wakeUps(client: pg.Client, target: string, notify: boolean): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WAKE_SAMPLES; i += 1) {
    const { id, at } = await insertJob(client, target, notify);
    samples.push((await leasedAt(client, id)).at - at);
    await labJobsDone(client, [id], 30_000);
    // Off the claiming host's tick phase: a submission comes at any moment.
    await sleep(50 + Math.random() * 300);
  }
  return samples;
}

interface LatencyFigures {
  solo: number[];
  cross: number[];
  same: number[];
  /** Cross-host jobs: job.submitted at (A) to slot.leased at (B). */
  crossClaim: number[];
  notify: number[];
  tickOnly: number[];
}

/** One lab of three hosts serving a target each, and a SQLite host beside it: latencies and wake-ups. */
async function latencies(): Promise<{ figures: LatencyFigures; soloThroughput: Omit<Throughput, 'hosts'> }> {
  return withCleanup(async (cleanup) => {
    const solo = await soloHost(cleanup, 'tb');
    // The SQLite host's throughput first, while it is the only agent running (as the labs' are).
    const soloDone = async (ids: string[]): Promise<{ lastEnd: number; byHost: Record<string, number> }> => ({
      lastEnd: await soloJobsDone(solo, ids),
      byHost: { solo: ids.length },
    });
    await throughput([solo], 'tb', SLOTS_PER_HOST, soloDone);
    const soloThroughput = await throughput([solo], 'tb', THROUGHPUT_JOBS, soloDone);
    const database = await labDatabase(cleanup);
    const lab: LabHosts = await startLabHosts(cleanup, {
      database,
      hosts: [
        { name: 'host-a', slots: slots('a', 'ta') },
        { name: 'host-b', slots: slots('b', 'tb') },
        { name: 'host-c', slots: slots('c', 'tc') },
      ],
    });
    const client = await labClient(cleanup, database);
    const a = lab.host('host-a').url;
    const b = lab.host('host-b').url;

    const figures: LatencyFigures = { solo: [], cross: [], same: [], crossClaim: [], notify: [], tickOnly: [] };
    // Interleaved, so that whatever else the machine does falls on every kind alike.
    for (let i = 0; i < LATENCY_SAMPLES + WARM_UP; i += 1) {
      const soloSample = await firstByte(solo, solo, 'tb');
      const cross = await firstByte(a, a, 'tb');
      const same = await firstByte(b, b, 'tb');
      if (i < WARM_UP) continue;
      figures.solo.push(soloSample.ms);
      figures.cross.push(cross.ms);
      figures.same.push(same.ms);
      const leased = await leasedAt(client, cross.id);
      if (leased.host !== 'host-b') throw new Error(`job ${cross.id} for tb ran on ${leased.host}`);
      const [submitted] = (
        await client.query<{ at: string }>(`SELECT at FROM lab_events WHERE job_id = $1 AND type = 'job.submitted'`, [
          cross.id,
        ])
      ).rows;
      figures.crossClaim.push(leased.at - Number(submitted?.at));
    }
    figures.notify = await wakeUps(client, 'tb', true);
    figures.tickOnly = await wakeUps(client, 'tb', false);
    return { figures, soloThroughput };
  });
}

async function serverVersion(): Promise<string> {
  return withCleanup(async (cleanup) => {
    const client = await labClient(cleanup, await labDatabase(cleanup));
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
  });
}

async function main(): Promise<void> {
  const cpu = cpus();
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
      `Linux ${release()}, Node ${process.version}, PostgreSQL ${await serverVersion()}`,
  );
  console.log(
    `command: ${process.env['npm_lifecycle_event'] === 'bench:lab' ? 'npm run bench:lab' : process.argv.join(' ')}`,
  );
  console.log(`${SLOTS_PER_HOST} slots per host (PTY consoles, [health] interval 1h), agents from dist/`);

  const only = process.argv.indexOf('--hosts');
  if (only >= 0) {
    const r = await labThroughput(Number(process.argv[only + 1]));
    console.log(JSON.stringify(r));
    return;
  }
  const { figures, soloThroughput } = await latencies();
  const solo = figure(figures.solo, 1);
  const cross = figure(figures.cross, 1);
  const same = figure(figures.same, 1);
  console.log(`\nsubmit → first output byte, ${LATENCY_SAMPLES} sequential \`echo\` jobs of each kind, interleaved:`);
  console.log(`  single host, SQLite:                        ${solo.text}`);
  console.log(`  lab, submitted to A, runs on B, follow on A: ${cross.text}`);
  console.log(`  lab, submitted to B, runs on B, follow on B: ${same.text}`);
  console.log(
    `  ratio cross-host / single host: p50 ${(cross.p50 / solo.p50).toFixed(2)}, p99 ${(cross.p99 / solo.p99).toFixed(2)}`,
  );
  console.log(`\nclaim wake-up: a job's commit in the lab to the claiming host's slot.leased:`);
  console.log(`  submitted through A's API (job.submitted at → leased on B):  ${figure(figures.crossClaim).text}`);
  console.log(`  inserted by hand with NOTIFY (COMMIT → leased on B):         ${figure(figures.notify).text}`);
  console.log(`  inserted by hand without NOTIFY (the 1 s safety tick alone): ${figure(figures.tickOnly).text}`);

  const rows: Throughput[] = [];
  for (const count of [1, 2, 3]) rows.push(await labThroughput(count));
  const one = rows[0]?.jobsPerSecond ?? NaN;
  console.log(
    `\nsustained throughput: ${THROUGHPUT_JOBS} \`true\` jobs submitted at once, round-robin over the hosts, first submission to last end (after a warm-up):`,
  );
  console.log('  hosts | jobs/s | × 1 host | seconds | machine CPU busy | jobs run per host');
  const line = (label: string, r: Omit<Throughput, 'hosts'>, ratio: string): string =>
    `  ${label.padStart(5)} | ${r.jobsPerSecond.toFixed(1).padStart(6)} | ${ratio.padStart(8)} | ${r.seconds.toFixed(1).padStart(7)} | ${`${(r.cpuBusy * 100).toFixed(0)} %`.padStart(16)} | ${Object.values(r.byHost).join(' / ')}`;
  for (const r of rows) console.log(line(String(r.hosts), r, (r.jobsPerSecond / one).toFixed(2)));
  console.log(line('solo', soloThroughput, '(SQLite)'));
}

try {
  await main();
} finally {
  for (const cleanup of pending.reverse()) await cleanup.runAll();
}
