// Benchmark: how long one `labslot` call takes, as a job script pays it. The
// wall time of the built CLI (`node bin/labslot.js`, as installed) for
//   - `labslot --version` (startup alone),
//   - `labslot worker mark-broken -m x` and `labslot slots`, each against a
//     small HTTP server on 127.0.0.1 that answers as the agent would, so the
//     figure is the CLI's and not an agent's,
// next to `node -e 0` on the same machine. Runs go round-robin (one of each
// command per round) so a busy neighbour slows every command alike; each
// figure is the median. The goal is a ratio of at most 2 to `node -e 0`.
//
//   npm run build && npm run bench:cli [-- ROUNDS]   (default 21 rounds)
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const LABSLOT_BIN = fileURLToPath(new URL('../bin/labslot.js', import.meta.url));
const ROUNDS = Number(process.argv[2] ?? 21);
const GOAL_RATIO = 2;

interface Case {
  label: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** What a successful run prints, checked once before timing so an error path is never what gets measured. */
  expect: (stdout: string, stderr: string) => boolean;
}

/** Four slots as GET /v1/slots shows them, one held and one with an unhealthy device: a realistic table to print. */
function slotsAnswer(): unknown {
  const device = (name: string, health: string): unknown => ({
    name,
    kind: 'serial',
    description: null,
    summary: `/dev/labslot/${name}`,
    shared_with: [],
    health,
    health_since: '2026-11-25T02:00:00.000Z',
    consecutive_failures: health === 'unhealthy' ? 3 : 0,
    consecutive_successes: health === 'healthy' ? 12 : 0,
    total_checks: 120,
    total_failures: 3,
    last_check: {
      ok: health === 'healthy',
      reason: health === 'healthy' ? 'answered' : 'no answer',
      detail: null,
      duration_ms: 12,
      at: '2026-11-25T02:30:00.000Z',
    },
    history: [],
  });
  const slot = (name: string, health: string, hold: unknown): unknown => ({
    name,
    target: 'gimlet',
    description: null,
    usage: 'idle',
    usage_since: '2026-11-25T02:00:00.000Z',
    lease: null,
    hold,
    health,
    available: hold === null && health === 'healthy',
    unavailable: null,
    conflicts_with: [],
    devices: [device(`${name}-console`, health), device(`${name}-sp`, 'healthy')],
  });
  const hold = {
    reason: 'SP probe drops off the hub',
    source: 'operator',
    by: 'alice@lab-1 (operator:1a2b3c4d)',
    at: '2026-11-25T02:10:00.000Z',
    job_id: null,
    worker_id: null,
  };
  return {
    host: { ok: true, reason: 'ok' },
    slots: [
      slot('gimlet-1', 'healthy', null),
      slot('gimlet-2', 'healthy', hold),
      slot('gimlet-3', 'unhealthy', null),
      slot('gimlet-4', 'healthy', null),
    ],
  };
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  req.resume();
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/v1/slots') return send(200, slotsAnswer());
    if (req.method === 'POST' && req.url === '/v1/worker/mark-broken') {
      return send(200, {
        slot: 'gimlet-1',
        job_id: 'j0001',
        worker_id: 'w0001',
        hold: {
          reason: 'x',
          source: 'job',
          by: 'job j0001',
          at: '2026-11-25T02:40:00.000Z',
          job_id: 'j0001',
          worker_id: 'w0001',
        },
      });
    }
    send(404, { error: { code: 'not_found', message: `no route ${req.method ?? '?'} ${req.url ?? '?'}` } });
  });
}

/** Wall time of one run, in milliseconds, with its output. */
async function run(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  clearTimeout(timer);
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, code, stdout, stderr };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

async function main(): Promise<void> {
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
    throw new Error(`rounds: "${process.argv[2] ?? ''}" is not a whole number above 0`);
  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Neither a config nor a job's variables from the caller's shell may change what is measured.
  const clean = {
    LABSLOT_CONFIG: '/nonexistent/slots.toml',
    LABSLOT_URL: '',
    LABSLOT_TOKEN: '',
    LABSLOT_WORKER: '',
    LABSLOT_SLOT: '',
    LABSLOT_JOB: '',
  };
  const inJob = {
    ...clean,
    LABSLOT_URL: url,
    LABSLOT_TOKEN: 'bench-worker-token',
    LABSLOT_WORKER: 'w0001',
    LABSLOT_SLOT: 'gimlet-1',
    LABSLOT_JOB: 'j0001',
  };
  const cases: Case[] = [
    { label: 'node -e 0', args: ['-e', '0'], env: clean, expect: () => true },
    {
      label: 'labslot --version',
      args: [LABSLOT_BIN, '--version'],
      env: clean,
      expect: (out) => /^\d+\.\d+\.\d+/.test(out),
    },
    {
      label: 'labslot worker mark-broken -m x',
      args: [LABSLOT_BIN, 'worker', 'mark-broken', '-m', 'x'],
      env: inJob,
      expect: (_out, err) => err.includes('slot gimlet-1 is held'),
    },
    {
      label: 'labslot slots',
      args: [LABSLOT_BIN, 'slots'],
      env: { ...clean, LABSLOT_URL: url },
      expect: (out) => /^gimlet-2\s+gimlet\s+idle\s+HELD/m.test(out),
    },
  ];
  try {
    // One run of each first: it checks the command works and warms the page cache.
    for (const c of cases) {
      const first = await run(c.args, c.env);
      if (first.code !== 0 || !c.expect(first.stdout, first.stderr))
        throw new Error(`${c.label} did not work (exit ${String(first.code)}): ${first.stderr}${first.stdout}`);
    }
    const times = new Map<string, number[]>(cases.map((c) => [c.label, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of cases) times.get(c.label)?.push((await run(c.args, c.env)).ms);
    }
    const base = median(times.get('node -e 0') ?? []);
    const width = Math.max(...cases.map((c) => c.label.length));
    console.log(`median wall time of ${ROUNDS} runs each (node ${process.version}, round-robin)`);
    let missed = false;
    for (const c of cases) {
      const ms = median(times.get(c.label) ?? []);
      const ratio = ms / base;
      const verdict = c.label === 'node -e 0' ? '' : ratio <= GOAL_RATIO ? '  ok' : `  over the goal of ${GOAL_RATIO}x`;
      if (c.label !== 'node -e 0' && ratio > GOAL_RATIO) missed = true;
      console.log(`${c.label.padEnd(width)}  ${ms.toFixed(0).padStart(5)} ms  ${ratio.toFixed(2)}x${verdict}`);
    }
    if (missed) process.exitCode = 1;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

await main();
