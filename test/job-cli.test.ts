// The job and worker commands: usage errors that never reach the network, the
// client's own behaviour against a scripted stand-in of the job API (raw bytes,
// reconnecting from the byte offset, exit codes, Ctrl-C), and the whole loop
// against a real agent that runs jobs (root only).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentClient } from '../src/cli/agent-client.js';
import { CliError } from '../src/cli/exit-codes.js';
import type { JobJson } from '../src/cli/job-json.js';
import { copyOutput, followOutput } from '../src/cli/job-output.js';
import { startAgent } from './helpers/agent-process.js';
import { hasStackTrace, LABSLOT_BIN, PROJECT_ROOT, runCli } from './helpers/cli.js';
import { jobJson, sendError, sendJson, startFakeAgent, startStream, writeBytes, type FakeAgent, type Handler } from './helpers/fake-job-agent.js';
import { freePort } from './helpers/free-port.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';
import { eventually } from './helpers/eventually.js';

const SUBMITTER = 'demo-submitter-token';
const OPERATOR = 'demo-operator-token';

/** The variables a job has; cleared so that a test run inside a labslot job behaves like one outside. */
const NOT_IN_A_JOB = { LABSLOT_URL: '', LABSLOT_TOKEN: '', LABSLOT_WORKER: '', LABSLOT_SLOT: '', LABSLOT_JOB: '', LABSLOT_CONFIG: '/nonexistent/slots.toml' };

interface LiveCli {
  signal: (name: NodeJS.Signals) => void;
  stdout: () => Buffer;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The CLI as a live process: raw stdout bytes, and signals the test can send while it runs. */
function spawnCli(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv): LiveCli {
  const child = spawn(process.execPath, [LABSLOT_BIN, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...NOT_IN_A_JOB, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { signal: (name) => child.kill(name), stdout: () => Buffer.concat(out), stderr: () => err, exited };
}

async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof runCli> {
  return runCli(args, { env: { ...NOT_IN_A_JOB, ...env } });
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

describe('job and worker commands: usage errors', () => {
  it('rejects bad arguments with exit 2 and one clear line, before talking to any agent', async () => {
    // Nothing listens here: a command that got as far as the network would exit 1, not 2.
    const env = { LABSLOT_URL: `http://127.0.0.1:${await freePort()}`, LABSLOT_TOKEN: SUBMITTER };
    const cases: [string[], RegExp][] = [
      [['job', 'run', '--', 'true'], /^labslot: required option '--target <target>' not specified\nlabslot: see 'labslot job run --help'\n$/],
      [['job', 'run', '--target', 'gimlet'], /^labslot: missing required argument 'command'$/m],
      [['job', 'run', '--target', 'gimlet', '--env', 'NOEQUALS', '--', 'true'], /^labslot: --env "NOEQUALS": expected NAME=VALUE, e.g. --env BOARD_REV=b\n$/],
      [['job', 'run', '--target', 'gimlet', '--env', 'A=1', '--env', '1BAD=x', '--', 'true'], /^labslot: --env "1BAD=x": "1BAD" is not an environment variable name/],
      [['job', 'run', '--target', 'gimlet', '--env', '=x', '--', 'true'], /^labslot: --env "=x": "" is not an environment variable name/],
      [['job', 'run', '--target', 'gimlet', '--env', 'LD_PRELOAD=/tmp/x.so', '--', 'true'], /^labslot: --env "LD_PRELOAD=\/tmp\/x\.so": "LD_PRELOAD" changes how programs are loaded, and jobs may not set it\n$/],
      [['job', 'run', '--target', 'gimlet', '--env', 'LABSLOT_SLOT=other', '--', 'true'], /^labslot: --env "LABSLOT_SLOT=other": "LABSLOT_SLOT" is set by labslot itself\n$/],
      [['job', 'run', '--target', 'gimlet', '--timeout', '10 min', '--', 'true'], /^labslot: --timeout "10 min" is not a duration \(e\.g\. 90s, 10m, 1h30m\)\n$/],
      [['job', 'run', '--target', 'gimlet', '--timeout', '10', '--', 'true'], /^labslot: --timeout "10" is not a duration/],
      [['job', 'run', '--target', 'gimlet', '--timeout', '0s', '--', 'true'], /^labslot: --timeout "0s": a job needs more than no time at all\n$/],
      [['job', 'run', '--target', 'gimlet', '--priority', 'high', '--', 'true'], /^labslot: --priority "high": expected a whole number from -1000 to 1000\n$/],
      [['job', 'run', '--target', 'gimlet', '--priority', '1001', '--', 'true'], /^labslot: --priority "1001"/],
      [['job', 'run', '--target', '', '--', 'true'], /^labslot: --target: name the kind of testbed/],
      [['job', 'run', '--target', 'gimlet', '--', ''], /^labslot: the command is empty/],
      [['job', 'submit', '--target', 'gimlet'], /^labslot: nothing to run: give -- CMD \[ARG\]\.\.\. or --script FILE\n$/],
      [['job', 'submit', '--target', 'gimlet', '--script', '/nonexistent/test.sh'], /^labslot: --script \/nonexistent\/test\.sh: cannot read it \(no such file\)\n$/],
      [['job', 'submit', '--target', 'gimlet', '--script', PROJECT_ROOT], /^labslot: --script .*: cannot read it \(it is a directory\)\n$/],
      [['job', 'submit', '--target', 'gimlet', '--script', LABSLOT_BIN, '--', 'true'], /^labslot: give either --script FILE or -- CMD \[ARG\]\.\.\., not both\n$/],
      [['job', 'list', '--state', 'done'], /^labslot: --state "done": expected one of queued, leased, running, cleaning, succeeded, failed, cancelled\n$/],
      [['job', 'list', '--limit', '0'], /^labslot: --limit "0": expected a whole number above 0\n$/],
      [['job', 'status'], /^labslot: missing required argument 'id'$/m],
      [['worker', 'mark-broken'], /^labslot: required option '-m, --message <message>' not specified$/m],
      [['job', 'list', '--jsn'], /^labslot: unknown option '--jsn'\nlabslot: did you mean --json\?\nlabslot: see 'labslot job list --help'\n$/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args, env)));
    for (const [index, [args, expected]] of cases.entries()) {
      const result = results[index];
      assert.ok(result);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, expected, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
      assert.equal(hasStackTrace(result.stderr), false, args.join(' '));
      // Commander's own errors too: every line has the one prefix.
      assert.deepEqual(lines(result.stderr).filter((line) => !line.startsWith('labslot: ')), [], args.join(' '));
    }
  });

  it('worker mark-broken outside a job says so in one line and exits 2', async () => {
    const outside = await cli(['worker', 'mark-broken', '-m', 'SP probe does not attach']);
    assert.equal(outside.code, 2);
    assert.equal(outside.stderr, 'labslot: worker mark-broken only works inside a labslot job (LABSLOT_URL, LABSLOT_TOKEN, LABSLOT_WORKER are not set)\n');
    // An operator with LABSLOT_URL and LABSLOT_TOKEN in their shell is still not inside a job.
    const operator = await cli(['worker', 'mark-broken', '-m', 'x'], { LABSLOT_URL: 'http://127.0.0.1:8421', LABSLOT_TOKEN: OPERATOR });
    assert.equal(operator.code, 2);
    assert.equal(operator.stderr, 'labslot: worker mark-broken only works inside a labslot job (LABSLOT_WORKER is not set)\n');
    const inJob = { LABSLOT_URL: `http://127.0.0.1:${await freePort()}`, LABSLOT_TOKEN: 'worker-token', LABSLOT_WORKER: 'w1' };
    const blank = await cli(['worker', 'mark-broken', '-m', '  '], inJob);
    assert.deepEqual([blank.code, blank.stderr], [2, 'labslot: -m: say what is wrong with the testbed\n']);
    const long = await cli(['worker', 'mark-broken', '-m', 'x'.repeat(1001)], inJob);
    assert.deepEqual([long.code, long.stderr], [2, 'labslot: -m: the message is 1001 characters; at most 1000 fit\n']);
  });

  it('says in one line, exit 1, when no agent is listening', async () => {
    const port = await freePort();
    const env = { LABSLOT_URL: `http://127.0.0.1:${port}`, LABSLOT_TOKEN: SUBMITTER };
    const refused = `labslot: cannot reach the agent at http://127.0.0.1:${port}/: connection refused (is the agent running?)\n`;
    const commands = [['job', 'run', '--target', 'gimlet', '--', 'true'], ['job', 'submit', '--target', 'gimlet', '--', 'true'], ['job', 'status', 'j1'], ['job', 'logs', 'j1'], ['job', 'logs', '-f', 'j1'], ['job', 'cancel', 'j1'], ['job', 'list']];
    const results = await Promise.all(commands.map((args) => cli(args, env)));
    for (const [index, args] of commands.entries()) {
      const result = results[index];
      assert.deepEqual([result?.code, result?.stderr, result?.stdout], [1, refused, ''], args.join(' '));
    }
    const worker = await cli(['worker', 'mark-broken', '-m', 'x'], { ...env, LABSLOT_WORKER: 'w1' });
    assert.deepEqual([worker.code, worker.stderr], [1, refused]);
  });
});

/** A job that is running on gimlet-1, whose output is `bytes`, ending as `final`. */
function runningJobAgent(t: TestContext, bytes: Buffer, final: Partial<JobJson>): Promise<FakeAgent> {
  return startFakeAgent(t, async (r, res) => {
    if (r.method === 'POST' && r.path === '/v1/jobs') return sendJson(res, 201, { id: 'j0001', job: jobJson({ state: 'running', slot: 'gimlet-1' }) });
    if (r.path === '/v1/jobs/j0001/output') {
      startStream(res);
      await writeBytes(res, bytes.subarray(Number(r.query.get('offset'))));
      res.end();
      return;
    }
    if (r.path === '/v1/jobs/j0001') return sendJson(res, 200, jobJson({ slot: 'gimlet-1', output_bytes: bytes.length, done: true, ...final }));
    sendError(res, 404, 'not_found', `no route ${r.method} ${r.path}`);
  });
}

describe('job run against a stand-in of the job API', () => {
  it('writes the raw bytes, reconnects from the byte offset after a break, and exits with the job\'s code', async (t) => {
    // Not UTF-8 on purpose, and "é" (c3 a9) split across the break: the client must not decode anything.
    const first = Buffer.from([0x68, 0x69, 0x0a, 0xff, 0xfe, 0x00, 0xc3]);
    const second = Buffer.concat([Buffer.from([0xa9]), Buffer.from('tail without a newline')]);
    const all = Buffer.concat([first, second]);
    let finished = false;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.method === 'POST' && r.path === '/v1/jobs') return sendJson(res, 201, { id: 'j0001', job: jobJson({ state: 'running', slot: 'gimlet-1' }) });
      if (r.path === '/v1/jobs/j0001/output') {
        startStream(res);
        const offset = Number(r.query.get('offset'));
        if (offset === 0) {
          await writeBytes(res, first);
          await sleep(50);
          res.socket?.destroy();
          return;
        }
        await writeBytes(res, all.subarray(offset));
        finished = true;
        res.end();
        return;
      }
      if (r.path === '/v1/jobs/j0001') {
        const view = finished ? { state: 'failed' as const, exit_code: 3, end_reason: 'exit code 3', ended_by: 'exit' as const, done: true } : { state: 'running' as const };
        return sendJson(res, 200, jobJson({ slot: 'gimlet-1', output_bytes: all.length, ...view }));
      }
    });
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--timeout', '90s', '--priority', '-5', '--env', 'A=1', '--env', 'B=x=y', '--env', 'A=2', '--env', 'EMPTY=', '--', 'make', '-j4', 'test'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: SUBMITTER,
    });
    assert.equal(await run.exited, 3, run.stderr());
    assert.deepEqual(run.stdout(), all);
    assert.equal(run.stderr(), 'labslot: job j0001 queued for gimlet\nlabslot: job j0001 got slot gimlet-1\n');

    const submit = agent.requests.find((r) => r.method === 'POST' && r.path === '/v1/jobs');
    assert.ok(submit);
    assert.deepEqual(submit.body, { target: 'gimlet', argv: ['make', '-j4', 'test'], env: { A: '2', B: 'x=y', EMPTY: '' }, timeout: '90s', priority: -5 });
    assert.equal(submit.authorization, `Bearer ${SUBMITTER}`);
    const outputs = agent.requests.filter((r) => r.path.endsWith('/output'));
    assert.deepEqual(outputs.map((r) => [r.query.get('offset'), r.query.get('follow')]), [['0', '1'], [String(first.length), '1']]);
  });

  it('exits with the job\'s own code only when the job ran to its end; otherwise 1 and one line saying why', async (t) => {
    const cases: [Partial<JobJson>, number, string | undefined][] = [
      [{ state: 'succeeded', exit_code: 0, end_reason: 'exit code 0', ended_by: 'exit' }, 0, undefined],
      [{ state: 'failed', exit_code: 3, end_reason: 'exit code 3', ended_by: 'exit' }, 3, undefined],
      [{ state: 'failed', exit_code: 2, end_reason: 'exit code 2', ended_by: 'exit' }, 2, undefined],
      // The job exited 0 after marking its slot broken: still the lab's failure.
      [{ state: 'failed', exit_code: 0, infrastructure: true, end_reason: 'marked broken: SP probe does not attach', ended_by: 'infrastructure' }, 1, 'job j0001 failed: marked broken: SP probe does not attach'],
      // A job that traps SIGTERM at its timeout and exits 143 must not pass that off as its verdict.
      [{ state: 'failed', exit_code: 143, signal: null, end_reason: 'timed out after 10s', ended_by: 'timeout' }, 1, 'job j0001 failed: timed out after 10s'],
      [{ state: 'failed', exit_code: null, signal: 'SIGKILL', end_reason: 'killed by SIGKILL', ended_by: 'signal' }, 1, 'job j0001 failed: killed by SIGKILL'],
      [{ state: 'failed', exit_code: null, infrastructure: true, end_reason: 'agent stopped while the job ran', ended_by: 'infrastructure' }, 1, 'job j0001 failed: agent stopped while the job ran'],
      [{ state: 'cancelled', exit_code: null, signal: 'SIGTERM', end_reason: 'cancelled by operator:61112491', ended_by: 'cancel' }, 1, 'job j0001 cancelled: cancelled by operator:61112491'],
      [{ state: 'failed', exit_code: null, signal: null, end_reason: null }, 1, 'job j0001 failed: no reason given'],
    ];
    for (const [final, code, line] of cases) {
      const agent = await runningJobAgent(t, Buffer.from('out\n'), final);
      const result = await cli(['job', 'run', '--target', 'gimlet', '--', 'make', 'test'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER });
      const label = JSON.stringify(final);
      assert.equal(result.code, code, `${label}: ${result.stderr}`);
      assert.equal(result.stdout, 'out\n', label);
      assert.deepEqual(lines(result.stderr), ['labslot: job j0001 queued for gimlet', 'labslot: job j0001 got slot gimlet-1', ...(line === undefined ? [] : [`labslot: ${line}`])], label);
    }
  });

  it('tells why a queued job waits, once per reason, then which slot it got', async (t) => {
    const views = [
      jobJson({ state: 'queued', waiting: 'gimlet: 1 held, 1 unhealthy (gimlet-2-console: no answer), 0 free' }),
      jobJson({ state: 'queued', waiting: 'gimlet: 1 held, 1 unhealthy (gimlet-2-console: no answer), 0 free' }),
      jobJson({ state: 'queued', waiting: 'gimlet: 1 held, 1 leased, 0 free' }),
      jobJson({ state: 'running', slot: 'gimlet-2' }),
      jobJson({ state: 'succeeded', slot: 'gimlet-2', exit_code: 0, end_reason: 'exit code 0', output_bytes: 3 }),
    ];
    let served = 0;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.method === 'POST' && r.path === '/v1/jobs') return sendJson(res, 201, { id: 'j0001', job: views[0] });
      if (r.path === '/v1/jobs/j0001/output') {
        // As the contract says: a follow stream of a queued job waits until the job starts.
        startStream(res);
        await eventually(() => served >= 3, { timeoutMs: 15_000, message: 'the job to leave the queue' });
        await writeBytes(res, Buffer.from('ok\n'));
        res.end();
        return;
      }
      if (r.path === '/v1/jobs/j0001') {
        served += 1;
        return sendJson(res, 200, views[Math.min(served, views.length - 1)]);
      }
    });
    const result = await cli(['job', 'run', '--target', 'gimlet', '--', 'true'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'ok\n');
    assert.deepEqual(lines(result.stderr), [
      'labslot: job j0001 queued for gimlet',
      'labslot: job j0001 waiting: gimlet: 1 held, 1 unhealthy (gimlet-2-console: no answer), 0 free',
      'labslot: job j0001 waiting: gimlet: 1 held, 1 leased, 0 free',
      'labslot: job j0001 got slot gimlet-2',
    ]);
  });

  /** A running job that prints "started", then "stopping" once it is cancelled. */
  async function cancellableJob(t: TestContext, options: { holdSubmission?: () => boolean; endsWhenCancelled?: boolean } = {}): Promise<FakeAgent & { cancelled: () => boolean }> {
    let cancelled = false;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.method === 'POST' && r.path === '/v1/jobs') {
        if (options.holdSubmission) await eventually(options.holdSubmission, { timeoutMs: 15_000, message: 'the test to let the submission through' });
        return sendJson(res, 201, { id: 'j0001', job: jobJson({ state: 'running', slot: 'gimlet-1' }) });
      }
      if (r.method === 'POST' && r.path === '/v1/jobs/j0001/cancel') {
        cancelled = true;
        return sendJson(res, 200, { id: 'j0001', state: 'running' });
      }
      if (r.path === '/v1/jobs/j0001/output') {
        startStream(res);
        await writeBytes(res, Buffer.from('started\n'));
        if (options.endsWhenCancelled === false) return;
        await eventually(() => cancelled, { timeoutMs: 15_000, message: 'the cancel' });
        await writeBytes(res, Buffer.from('stopping\n'));
        res.end();
        return;
      }
      if (r.path === '/v1/jobs/j0001') {
        const view = cancelled ? { state: 'cancelled' as const, done: true, signal: 'SIGTERM', end_reason: 'cancelled by submitter:4281a7c7' } : { state: 'running' as const };
        return sendJson(res, 200, jobJson({ slot: 'gimlet-1', output_bytes: 17, ...view }));
      }
    });
    return { ...agent, cancelled: () => cancelled };
  }

  it('cancels the job on Ctrl-C, streams until it has stopped, and exits 1', async (t) => {
    const agent = await cancellableJob(t);
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER });
    await eventually(() => run.stdout().toString() === 'started\n', { message: 'the job\'s first output' });
    run.signal('SIGINT');
    assert.equal(await run.exited, 1, run.stderr());
    assert.equal(run.stdout().toString(), 'started\nstopping\n');
    assert.deepEqual(lines(run.stderr()), [
      'labslot: job j0001 queued for gimlet',
      'labslot: job j0001 got slot gimlet-1',
      'labslot: interrupted; cancelling job j0001 and waiting for it to stop (Ctrl-C again to stop waiting)',
      'labslot: job j0001 cancelled: cancelled by submitter:4281a7c7',
    ]);
    const cancel = agent.requests.filter((r) => r.path === '/v1/jobs/j0001/cancel');
    assert.equal(cancel.length, 1);
    assert.equal(cancel[0]?.authorization, `Bearer ${SUBMITTER}`);
  });

  it('SIGTERM (a CI runner cancelling its step) cancels the job like Ctrl-C', async (t) => {
    const agent = await cancellableJob(t);
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER });
    await eventually(() => run.stdout().length > 0, { message: 'the job\'s first output' });
    run.signal('SIGTERM');
    assert.equal(await run.exited, 1, run.stderr());
    assert.equal(agent.cancelled(), true);
  });

  it('stops waiting at once on a second Ctrl-C', async (t) => {
    const agent = await cancellableJob(t, { endsWhenCancelled: false });
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER });
    await eventually(() => run.stdout().length > 0, { message: 'the job\'s first output' });
    run.signal('SIGINT');
    await eventually(agent.cancelled, { message: 'the cancel' });
    await eventually(() => run.stderr().includes('interrupted; cancelling'), { message: 'the cancel to be announced' });
    const started = Date.now();
    run.signal('SIGINT');
    assert.equal(await run.exited, 1);
    assert.ok(Date.now() - started < 2_000, 'a second Ctrl-C must not wait for the job');
    assert.match(run.stderr(), /^labslot: interrupted again; not waiting for job j0001\n$/m);
  });

  it('cancels a job it was still submitting when Ctrl-C came', async (t) => {
    let letThrough = false;
    const agent = await cancellableJob(t, { holdSubmission: () => letThrough });
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER });
    await eventually(() => agent.requests.some((r) => r.path === '/v1/jobs'), { message: 'the submission' });
    run.signal('SIGINT');
    await eventually(() => run.stderr().includes('as soon as it is submitted'), { message: 'the interrupt to be noticed' });
    letThrough = true;
    assert.equal(await run.exited, 1, run.stderr());
    assert.equal(agent.cancelled(), true);
    assert.match(run.stderr(), /labslot: job j0001 cancelled: cancelled by submitter:4281a7c7\n$/);
  });

  it('gives up after its retries when the agent goes away, in one line', async (t) => {
    let gone = false;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.method === 'POST' && r.path === '/v1/jobs') return sendJson(res, 201, { id: 'j0001', job: jobJson({ state: 'running', slot: 'gimlet-1' }) });
      if (gone) {
        res.socket?.destroy();
        return;
      }
      if (r.path === '/v1/jobs/j0001/output') {
        startStream(res);
        await writeBytes(res, Buffer.from('partial'));
        gone = true;
        res.socket?.destroy();
        return;
      }
      sendJson(res, 200, jobJson({ state: 'running', slot: 'gimlet-1' }));
    });
    const result = await runCli(['job', 'run', '--target', 'gimlet', '--', 'true'], { env: { ...NOT_IN_A_JOB, LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER }, timeoutMs: 60_000 });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, 'partial');
    const said = lines(result.stderr);
    assert.match(said.at(-1) ?? '', /^labslot: lost the agent while reading the output of job j0001 at byte 7, 8 attempts in a row: /);
    assert.equal(said.filter((l) => l.startsWith('labslot: lost the output of job j0001')).length, 7, result.stderr);
    assert.equal(hasStackTrace(result.stderr), false);
  });
});

describe('job output streaming (unit)', () => {
  const quick = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
  const collect = (): { write: (chunk: Uint8Array) => Promise<void>; bytes: () => Buffer } => {
    const chunks: Buffer[] = [];
    return { write: (chunk) => Promise.resolve(void chunks.push(Buffer.from(chunk))), bytes: () => Buffer.concat(chunks) };
  };

  it('retries a stream that keeps breaking without progress a bounded number of times', async (t) => {
    const agent = await startFakeAgent(t, (r, res) => {
      if (r.path.endsWith('/output')) return void res.socket?.destroy();
      sendJson(res, 200, jobJson({ state: 'running' }));
    });
    const retries: string[] = [];
    const sink = collect();
    await assert.rejects(
      followOutput(new AgentClient(agent.url, undefined), 'j0001', { write: sink.write, signal: AbortSignal.timeout(10_000), retry: quick, retryFirstAttempt: true, onRetry: (_p, offset, n, of) => retries.push(`${offset}:${n}/${of}`) }),
      (error: unknown) => error instanceof CliError && error.exitCode === 1 && /at byte 0, 3 attempts in a row/.test(error.message),
    );
    assert.deepEqual(retries, ['0:2/3', '0:3/3']);
    assert.equal(agent.requests.filter((r) => r.path.endsWith('/output')).length, 3);
  });

  it('keeps going as long as every attempt brings bytes, however often the stream breaks', async (t) => {
    const text = Buffer.from('abcdef');
    let sent = 0;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.path.endsWith('/output')) {
        const offset = Number(r.query.get('offset'));
        startStream(res);
        if (offset < text.length) await writeBytes(res, text.subarray(offset, offset + 1));
        sent = offset + 1;
        return void res.socket?.destroy();
      }
      sendJson(res, 200, jobJson({ state: sent >= text.length ? 'succeeded' : 'running', output_bytes: text.length }));
    });
    const sink = collect();
    const job = await followOutput(new AgentClient(agent.url, undefined), 'j0001', { write: sink.write, signal: AbortSignal.timeout(10_000), retry: quick });
    assert.equal(job.state, 'succeeded');
    assert.deepEqual(sink.bytes(), text);
    assert.deepEqual(agent.requests.filter((r) => r.path.endsWith('/output')).map((r) => r.query.get('offset')), ['0', '1', '2', '3', '4', '5']);
  });

  it('does not retry what the agent refuses, and copies without follow in one request', async (t) => {
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.path === '/v1/jobs/nope/output') return sendError(res, 404, 'job_not_found', 'no job nope');
      startStream(res);
      await writeBytes(res, Buffer.from('so far'));
      res.end();
    });
    const client = new AgentClient(agent.url, undefined);
    await assert.rejects(followOutput(client, 'nope', { write: collect().write, signal: AbortSignal.timeout(10_000), retry: quick }), (error: unknown) => error instanceof CliError && error.exitCode === 1 && error.message === 'no job nope');
    assert.equal(agent.requests.length, 1);
    const sink = collect();
    assert.equal(await copyOutput(client, 'j0001', { write: sink.write, signal: AbortSignal.timeout(10_000) }), 6);
    assert.equal(sink.bytes().toString(), 'so far');
    assert.equal(agent.requests.at(-1)?.query.get('follow'), null);
  });
});

describe('job submit, status, logs, cancel, list against a stand-in of the job API', () => {
  const failedJob = jobJson({
    id: 'j0002',
    state: 'failed',
    slot: 'gimlet-1',
    worker_id: 'w0001',
    exit_code: 0,
    end_reason: 'marked broken: SP probe does not attach',
    ended_by: 'infrastructure',
    infrastructure: true,
    started_at: '2026-11-25T02:33:00.000Z',
    ended_at: '2026-11-25T02:34:10.500Z',
    output_bytes: 7,
  });
  const handler: Handler = async (r, res) => {
    if (r.method === 'POST' && r.path === '/v1/jobs') return sendJson(res, 201, { id: 'j0002', job: jobJson({ id: 'j0002' }) });
    if (r.method === 'GET' && r.path === '/v1/jobs') return sendJson(res, 200, { jobs: [jobJson({ id: 'j0003', waiting: 'gimlet: 0 free' }), failedJob] });
    if (r.path === '/v1/jobs/j0002') return sendJson(res, 200, failedJob);
    if (r.path === '/v1/jobs/j0003') return sendJson(res, 200, jobJson({ id: 'j0003', waiting: 'gimlet: 2 leased, 0 free', output_bytes: 1 }));
    if (r.path === '/v1/jobs/j0002/output') {
      startStream(res);
      await writeBytes(res, Buffer.from([0x6f, 0x75, 0x74, 0xff, 0x0a, 0x65, 0x6e]));
      return void res.end();
    }
    if (r.path === '/v1/jobs/j0002/cancel') return sendError(res, 409, 'job_done', 'job j0002 is already done (failed)');
    if (r.path === '/v1/jobs/j0003/cancel') return sendJson(res, 200, { id: 'j0003', state: 'cancelled' });
    if (r.path === '/v1/jobs/j0004/cancel') return sendJson(res, 200, { id: 'j0004', state: 'running' });
    sendError(res, 404, 'job_not_found', `no job ${r.path.split('/')[3] ?? ''}`);
  };

  it('submit prints only the id, and sends a script or an argv', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER };
    const dir = tempDir(t);
    const script = join(dir, 'test.sh');
    writeFileSync(script, '#!/bin/sh\nhumility probe\n');
    const withScript = await cli(['job', 'submit', '--target', 'gimlet', '--script', script], env);
    assert.deepEqual([withScript.code, withScript.stdout, withScript.stderr], [0, 'j0002\n', '']);
    assert.deepEqual(agent.requests[0]?.body, { target: 'gimlet', script: '#!/bin/sh\nhumility probe\n' });
    const withArgv = await cli(['job', 'submit', '--target', 'gimlet', '--env', 'X=1', '--', 'sh', '-c', 'echo "$X"'], env);
    assert.deepEqual([withArgv.code, withArgv.stdout], [0, 'j0002\n']);
    assert.deepEqual(agent.requests[1]?.body, { target: 'gimlet', argv: ['sh', '-c', 'echo "$X"'], env: { X: '1' } });
  });

  it('without a token says so in command-line words, naming the token it needs, not in HTTP\'s', async (t) => {
    const agent = await startFakeAgent(t, (_r, res) =>
      sendJson(res, 401, { error: { code: 'unauthorized', message: 'this needs a submitter token: send "Authorization: Bearer TOKEN"', needs: ['submitter'] } }),
    );
    const none = await cli(['job', 'submit', '--target', 'gimlet', '--', 'true'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: '' });
    assert.deepEqual([none.code, none.stderr], [1, 'labslot: no token: pass --token or set LABSLOT_TOKEN to a submitter token\n']);
    const empty = await cli(['job', 'submit', '--target', 'gimlet', '--token', '', '--', 'true'], { LABSLOT_URL: agent.url, LABSLOT_TOKEN: '' });
    assert.equal(empty.stderr, 'labslot: no token: pass --token or set LABSLOT_TOKEN to a submitter token\n');
    assert.equal(agent.requests.at(-1)?.authorization, undefined, '--token "" sends no Authorization header');
  });

  it('status summarizes a job for people, or prints its JSON, and exits 0 even for a failed job', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url };
    const human = await cli(['job', 'status', 'j0002'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^job\s+j0002$/m);
    assert.match(human.stdout, /^state\s+failed \(infrastructure failure\)$/m);
    assert.match(human.stdout, /^slot\s+gimlet-1$/m);
    assert.match(human.stdout, /^command\s+make test$/m);
    assert.match(human.stdout, /^exit code\s+0$/m);
    assert.match(human.stdout, /^reason\s+marked broken: SP probe does not attach$/m);
    assert.match(human.stdout, /^timeout\s+1h$/m);
    assert.match(human.stdout, /^ended\s+2026-11-25T02:34:10Z$/m);
    assert.doesNotMatch(human.stdout, /^waiting/m);
    const queued = await cli(['job', 'status', 'j0003'], env);
    assert.match(queued.stdout, /^waiting\s+gimlet: 2 leased, 0 free$/m);
    assert.match(human.stdout, /^output\s+7 bytes$/m);
    assert.match(queued.stdout, /^output\s+1 byte$/m, 'not "1 bytes"');
    const json = await cli(['job', 'status', 'j0002', '--json'], env);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), failedJob);
    // Not found is the agent's "no" (exit 1), like a job that failed; only the command line's own mistakes are 2.
    const unknown = await cli(['job', 'status', 'j9999'], env);
    assert.deepEqual([unknown.code, unknown.stderr], [1, 'labslot: no job j9999\n']);
  });

  it('logs prints the output as raw bytes, with or without -f', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const plain = spawnCli(t, ['job', 'logs', 'j0002'], { LABSLOT_URL: agent.url });
    assert.equal(await plain.exited, 0, plain.stderr());
    assert.deepEqual(plain.stdout(), Buffer.from([0x6f, 0x75, 0x74, 0xff, 0x0a, 0x65, 0x6e]));
    const followed = spawnCli(t, ['job', 'logs', '-f', 'j0002'], { LABSLOT_URL: agent.url });
    assert.equal(await followed.exited, 0, followed.stderr());
    assert.deepEqual(followed.stdout(), plain.stdout());
    assert.deepEqual(
      agent.requests.filter((r) => r.path.endsWith('/output')).map((r) => r.query.toString()),
      ['offset=0', 'offset=0&follow=1'],
    );
  });

  it('cancel prints the new state; a job that is already done is exit 1 with the agent\'s message', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url, LABSLOT_TOKEN: OPERATOR };
    const queued = await cli(['job', 'cancel', 'j0003'], env);
    assert.deepEqual([queued.code, queued.stdout], [0, 'job j0003 cancelled\n']);
    const running = await cli(['job', 'cancel', 'j0004'], env);
    assert.deepEqual([running.code, running.stdout], [0, 'job j0004 running: cancel requested; it is stopped, cleaned up, and then ends as cancelled\n']);
    const done = await cli(['job', 'cancel', 'j0002'], env);
    assert.deepEqual([done.code, done.stdout, done.stderr], [1, '', 'labslot: job j0002 is already done (failed)\n']);
    assert.equal(agent.requests[0]?.authorization, `Bearer ${OPERATOR}`);
  });

  it('list prints a table, passes the filters, or prints JSON', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url };
    const table = await cli(['job', 'list', '--state', 'failed', '--target', 'gimlet', '--limit', '5'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(agent.requests[0]?.query.toString(), 'state=failed&target=gimlet&limit=5');
    const [header, first, second] = table.stdout.split('\n');
    assert.match(header ?? '', /^ID\s+TARGET\s+STATE\s+SLOT\s+EXIT\s+SUBMITTED\s+COMMAND\s+NOTE$/);
    assert.match(first ?? '', /^j0003\s+gimlet\s+queued\s+-\s+-\s+2026-11-25T02:32:23Z\s+make test\s+gimlet: 0 free$/);
    // The job's process exited 0 after marking its slot broken: that is not its verdict, so EXIT shows none.
    assert.match(second ?? '', /^j0002\s+gimlet\s+failed\s+gimlet-1\s+-\s+2026-11-25T02:32:23Z\s+make test\s+marked broken: SP probe does not attach$/);
    const json = await cli(['job', 'list', '--json'], env);
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 2);
  });
});

describe('worker mark-broken against a stand-in of the worker API', () => {
  const inJob = (url: string): NodeJS.ProcessEnv => ({ LABSLOT_URL: url, LABSLOT_TOKEN: 'worker-token-w0007', LABSLOT_WORKER: 'w0007', LABSLOT_SLOT: 'gimlet-1', LABSLOT_JOB: 'j0001' });

  it('holds the job\'s slot with the message and says what that means', async (t) => {
    const agent = await startFakeAgent(t, (r, res) => {
      const body = r.body as { message: string };
      sendJson(res, 200, { slot: 'gimlet-1', job_id: 'j0001', worker_id: 'w0007', hold: { reason: body.message, source: 'job', by: 'job j0001', at: '2026-11-25T02:40:00.000Z', job_id: 'j0001', worker_id: 'w0007' } });
    });
    const result = await cli(['worker', 'mark-broken', '-m', 'SP probe does not attach'], inJob(agent.url));
    assert.deepEqual([result.code, result.stdout], [0, ''], result.stderr);
    assert.equal(result.stderr, 'labslot: slot gimlet-1 is held: SP probe does not attach; this job ends as an infrastructure failure\n');
    const [request] = agent.requests;
    assert.ok(request);
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/v1/worker/mark-broken');
    assert.equal(request.authorization, 'Bearer worker-token-w0007');
    assert.deepEqual(request.body, { message: 'SP probe does not attach', slot: 'gimlet-1', worker: 'w0007' });
  });

  it('on a slot that was already held, says that hold stays', async (t) => {
    const agent = await startFakeAgent(t, (_r, res) => {
      const hold = { reason: 'reflashing RoT', source: 'operator', by: 'alice (operator:61112491)', at: '2026-11-25T02:40:00.123Z', job_id: null, worker_id: null };
      sendJson(res, 200, { slot: 'gimlet-1', job_id: 'j0001', worker_id: 'w0007', hold, already_held: true });
    });
    const result = await cli(['worker', 'mark-broken', '-m', 'SP probe does not attach'], inJob(agent.url));
    assert.deepEqual(
      [result.code, result.stdout, result.stderr],
      [0, '', 'labslot: slot gimlet-1 stays held by operator alice (operator:61112491) since 2026-11-25T02:40:00Z: reflashing RoT (your message is in its events); this job ends as an infrastructure failure\n'],
    );
  });

  it('reports a refused token with exit 1 and the agent\'s message', async (t) => {
    let status = 401;
    const agent = await startFakeAgent(t, (_r, res) => sendError(res, status, status === 401 ? 'token_expired' : 'forbidden', status === 401 ? 'the token of worker w0007 expired when its job ended' : 'this needs a worker token; operator and submitter tokens cannot act for a job'));
    const expired = await cli(['worker', 'mark-broken', '-m', 'x'], inJob(agent.url));
    assert.deepEqual([expired.code, expired.stderr], [1, 'labslot: the token of worker w0007 expired when its job ended\n']);
    status = 403;
    const forbidden = await cli(['worker', 'mark-broken', '-m', 'x'], inJob(agent.url));
    assert.deepEqual([forbidden.code, forbidden.stderr], [1, 'labslot: this needs a worker token; operator and submitter tokens cannot act for a job\n']);
  });
});

/** A lab whose one slot is always healthy (its only device is `true`), on an agent that runs jobs. */
function benchConfig(dir: string): string {
  const hash = (token: string): string => createHash('sha256').update(token).digest('hex');
  const file = join(dir, 'slots.toml');
  writeFileSync(
    file,
    `[agent]
name = "job-cli-test"
state_dir = "state"

[auth]
operators = ["${hash(OPERATOR)}"]
submitters = ["${hash(SUBMITTER)}"]

[health]
interval = "1s"

[jobs]
timeout = "2m"
stop_grace = "1s"

[devices.bench-1-ok]
kind = "command"
argv = ["true"]

[slots.bench-1]
target = "bench"
devices = ["bench-1-ok"]
`,
  );
  return file;
}

describe('job commands against a real agent', () => {
  async function lab(t: TestContext): Promise<{ url: string; env: NodeJS.ProcessEnv } | undefined> {
    if (!requires(t, ROOT, command('useradd', ['--help']))) return undefined;
    const dir = tempDir(t);
    // mkdtemp makes it 0700; the job's user must reach the `labslot` wrapper in the state directory.
    chmodSync(dir, 0o755);
    const agent = await startAgent(t, { config: benchConfig(dir), stateDir: join(dir, 'state') });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const slot = (await (await fetch(`${agent.url}/v1/slots/bench-1`)).json()) as { health: string };
      if (slot.health === 'healthy') break;
      if (Date.now() > deadline) throw new Error(`bench-1 did not become healthy: ${JSON.stringify(slot)}`);
      await sleep(100);
    }
    return { url: agent.url, env: { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER } };
  }

  it('run streams the combined output and exits with the job\'s code', async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const failing = await cli(['job', 'run', '--target', 'bench', '--', 'sh', '-c', 'printf "out\\n"; printf "err\\n" >&2; printf "no newline"; exit 7'], bench.env);
    assert.equal(failing.code, 7, failing.stderr);
    assert.equal(failing.stdout, 'out\nerr\nno newline');
    assert.match(failing.stderr, /^labslot: job (\S+) queued for bench\n/);
    const passing = await cli(['job', 'run', '--target', 'bench', '--env', 'GREETING=hello there', '--', 'sh', '-c', 'printf %s "$GREETING"'], bench.env);
    assert.deepEqual([passing.code, passing.stdout], [0, 'hello there'], passing.stderr);
    const timedOut = await cli(['job', 'run', '--target', 'bench', '--timeout', '1s', '--', 'sleep', '30'], bench.env);
    assert.equal(timedOut.code, 1, timedOut.stderr);
    assert.match(timedOut.stderr, /labslot: job \S+ failed: timed out after 1s\n$/);
  });

  it('submit, logs -f, status, list and cancel work together', async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const submitted = await cli(['job', 'submit', '--target', 'bench', '--', 'sh', '-c', 'echo hello; exit 3'], bench.env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = submitted.stdout.trim();
    assert.equal(submitted.stdout, `${id}\n`);
    const logs = await cli(['job', 'logs', '-f', id], bench.env);
    assert.deepEqual([logs.code, logs.stdout], [0, 'hello\n'], logs.stderr);
    const status = await cli(['job', 'status', id, '--json'], bench.env);
    const view = JSON.parse(status.stdout) as JobJson;
    assert.deepEqual([status.code, view.state, view.exit_code, view.done, view.slot], [0, 'failed', 3, true, 'bench-1']);
    const human = await cli(['job', 'status', id], bench.env);
    assert.match(human.stdout, /^exit code\s+3$/m);
    const list = await cli(['job', 'list', '--target', 'bench'], bench.env);
    assert.match(list.stdout, new RegExp(`^${id}\\s+bench\\s+failed\\s+bench-1\\s+3\\s`, 'm'));
    const again = await cli(['job', 'cancel', id], bench.env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^labslot: .+\n$/);

    const long = (await cli(['job', 'submit', '--target', 'bench', '--', 'sleep', '60'], bench.env)).stdout.trim();
    const deadline = Date.now() + 30_000;
    while (((JSON.parse((await cli(['job', 'status', long, '--json'], bench.env)).stdout) as JobJson).state !== 'running')) {
      if (Date.now() > deadline) throw new Error('the long job never started');
      await sleep(200);
    }
    const cancel = await cli(['job', 'cancel', long], { ...bench.env, LABSLOT_TOKEN: OPERATOR });
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, new RegExp(`^job ${long} `));
    const ended = await cli(['job', 'logs', '-f', long], bench.env);
    assert.equal(ended.code, 0);
    const final = JSON.parse((await cli(['job', 'status', long, '--json'], bench.env)).stdout) as JobJson;
    assert.deepEqual([final.state, final.done], ['cancelled', true]);
    assert.match(final.end_reason ?? '', /^cancelled by operator:/);
  });

  it('Ctrl-C on job run cancels the job and exits 1', async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const run = spawnCli(t, ['job', 'run', '--target', 'bench', '--', 'sh', '-c', 'echo started; sleep 60'], bench.env);
    await eventually(() => run.stdout().toString() === 'started\n', { timeoutMs: 30_000, message: 'the job to start' });
    run.signal('SIGINT');
    assert.equal(await run.exited, 1, run.stderr());
    assert.match(run.stderr(), /labslot: interrupted; cancelling job \S+/);
    assert.match(run.stderr(), /labslot: job \S+ cancelled: cancelled by submitter:[0-9a-f]{8}\n$/);
  });

  it('mark-broken from inside a job holds the slot, fails the job as the lab\'s, and later jobs say why they wait', async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const run = await cli(['job', 'run', '--target', 'bench', '--', 'labslot', 'worker', 'mark-broken', '-m', 'probe gone'], bench.env);
    assert.equal(run.code, 1, `${run.stderr}${run.stdout}`);
    assert.equal(run.stdout, 'labslot: slot bench-1 is held: probe gone; this job ends as an infrastructure failure\n');
    assert.match(run.stderr, /labslot: job \S+ failed: marked broken: probe gone\n$/);
    const slot = (await (await fetch(`${bench.url}/v1/slots/bench-1`)).json()) as { hold: { reason: string; source: string } | null };
    assert.deepEqual([slot.hold?.reason, slot.hold?.source], ['probe gone', 'job']);

    const waiting = spawnCli(t, ['job', 'run', '--target', 'bench', '--', 'true'], bench.env);
    await eventually(() => /labslot: job \S+ waiting: .*bench.*\n/.test(waiting.stderr()), { timeoutMs: 15_000, message: 'the waiting reason' });
    waiting.signal('SIGINT');
    assert.equal(await waiting.exited, 1, waiting.stderr());
    assert.match(waiting.stderr(), /labslot: job \S+ cancelled: .+\n$/);
  });

  it('a worker token from outside its job, or an operator token, is refused with exit 1', async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const operator = await cli(['worker', 'mark-broken', '-m', 'x'], { LABSLOT_URL: bench.url, LABSLOT_TOKEN: OPERATOR, LABSLOT_WORKER: 'w-none', LABSLOT_SLOT: 'bench-1' });
    assert.equal(operator.code, 1);
    assert.equal(lines(operator.stderr).length, 1, operator.stderr);
    const stranger = await cli(['worker', 'mark-broken', '-m', 'x'], { LABSLOT_URL: bench.url, LABSLOT_TOKEN: 'not-a-worker-token', LABSLOT_WORKER: 'w-none', LABSLOT_SLOT: 'bench-1' });
    assert.equal(stranger.code, 1);
    assert.equal(hasStackTrace(stranger.stderr), false);
  });
});
