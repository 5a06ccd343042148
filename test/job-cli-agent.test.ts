// The job and worker commands end to end against a real agent that runs jobs
// (root only): a job-lab slot on a PTY console, and the CLI as CI runs it.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { JobView } from './helpers/api-types.js';
import { hasStackTrace } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import { cli, lines, spawnCli } from './helpers/job-cli.js';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('job commands against a real agent', () => {
  /** One always-healthy slot `bench-1` of target `bench`, on an agent that runs jobs. */
  async function lab(t: TestContext): Promise<{ url: string; env: NodeJS.ProcessEnv; lab: JobLab } | undefined> {
    if (!requires(t, ROOT, command('useradd', ['--help']), command('socat', ['-V']))) return undefined;
    const bench = await jobLab(t, [{ name: 'bench-1', target: 'bench' }], '', 'timeout = "2m"\nstop_grace = "1s"');
    return { url: bench.agent.url, env: { LABSLOT_URL: bench.agent.url, LABSLOT_TOKEN: SUBMITTER_TOKEN }, lab: bench };
  }

  it("run streams the combined output and exits with the job's code", async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const failing = await cli(
      [
        'job',
        'run',
        '--target',
        'bench',
        '--',
        'sh',
        '-c',
        'printf "out\\n"; printf "err\\n" >&2; printf "no newline"; exit 7',
      ],
      bench.env,
    );
    assert.equal(failing.code, 7, failing.stderr);
    assert.equal(failing.stdout, 'out\nerr\nno newline');
    assert.match(failing.stderr, /^labslot: job (\S+) queued for bench\n/);
    const passing = await cli(
      ['job', 'run', '--target', 'bench', '--env', 'GREETING=hello there', '--', 'sh', '-c', 'printf %s "$GREETING"'],
      bench.env,
    );
    assert.deepEqual([passing.code, passing.stdout], [0, 'hello there'], passing.stderr);
    const timedOut = await cli(['job', 'run', '--target', 'bench', '--timeout', '1s', '--', 'sleep', '30'], bench.env);
    assert.equal(timedOut.code, 1, timedOut.stderr);
    assert.match(timedOut.stderr, /labslot: job \S+ failed: timed out after 1s\n$/);
  });

  it('submit, logs -f, status, list and cancel work together', async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const submitted = await cli(
      ['job', 'submit', '--target', 'bench', '--', 'sh', '-c', 'echo hello; exit 3'],
      bench.env,
    );
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = submitted.stdout.trim();
    assert.equal(submitted.stdout, `${id}\n`);
    const logs = await cli(['job', 'logs', '-f', id], bench.env);
    assert.deepEqual([logs.code, logs.stdout], [0, 'hello\n'], logs.stderr);
    const status = await cli(['job', 'status', id, '--json'], bench.env);
    const view = JSON.parse(status.stdout) as JobView;
    assert.deepEqual(
      [status.code, view.state, view.exit_code, view.done, view.slot],
      [0, 'failed', 3, true, 'bench-1'],
    );
    const human = await cli(['job', 'status', id], bench.env);
    assert.match(human.stdout, /^exit code\s+3$/m);
    const list = await cli(['job', 'list', '--target', 'bench'], bench.env);
    assert.match(list.stdout, new RegExp(`^${id}\\s+bench\\s+failed\\s+bench-1\\s+3\\s`, 'm'));
    const again = await cli(['job', 'cancel', id], bench.env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^labslot: .+\n$/);

    const long = (await cli(['job', 'submit', '--target', 'bench', '--', 'sleep', '60'], bench.env)).stdout.trim();
    await eventually(
      async () =>
        (JSON.parse((await cli(['job', 'status', long, '--json'], bench.env)).stdout) as JobView).state === 'running',
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        message: 'the long job to start',
      },
    );
    const cancel = await cli(['job', 'cancel', long], { ...bench.env, LABSLOT_TOKEN: OPERATOR_TOKEN });
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, new RegExp(`^job ${long} `));
    const ended = await cli(['job', 'logs', '-f', long], bench.env);
    assert.equal(ended.code, 0);
    const final = JSON.parse((await cli(['job', 'status', long, '--json'], bench.env)).stdout) as JobView;
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

  it("mark-broken from inside a job holds the slot, fails the job as the lab's, and later jobs say why they wait", async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const run = await cli(
      ['job', 'run', '--target', 'bench', '--', 'labslot', 'worker', 'mark-broken', '-m', 'probe gone'],
      bench.env,
    );
    assert.equal(run.code, 1, `${run.stderr}${run.stdout}`);
    assert.equal(run.stdout, 'labslot: slot bench-1 is held: probe gone; this job ends as an infrastructure failure\n');
    assert.match(run.stderr, /labslot: job \S+ failed: marked broken: probe gone\n$/);
    const slot = await bench.lab.slot('bench-1');
    assert.deepEqual([slot.hold?.reason, slot.hold?.source], ['probe gone', 'job']);

    const waiting = spawnCli(t, ['job', 'run', '--target', 'bench', '--', 'true'], bench.env);
    await eventually(() => /labslot: job \S+ waiting: .*bench.*\n/.test(waiting.stderr()), {
      timeoutMs: 15_000,
      message: 'the waiting reason',
    });
    waiting.signal('SIGINT');
    assert.equal(await waiting.exited, 1, waiting.stderr());
    assert.match(waiting.stderr(), /labslot: job \S+ cancelled: .+\n$/);
  });

  it('a worker token from outside its job, or an operator token, is refused with exit 1', async (t) => {
    const bench = await lab(t);
    if (!bench) return;
    const operator = await cli(['worker', 'mark-broken', '-m', 'x'], {
      LABSLOT_URL: bench.url,
      LABSLOT_TOKEN: OPERATOR_TOKEN,
      LABSLOT_WORKER: 'w-none',
      LABSLOT_SLOT: 'bench-1',
    });
    assert.equal(operator.code, 1);
    assert.equal(lines(operator.stderr).length, 1, operator.stderr);
    const stranger = await cli(['worker', 'mark-broken', '-m', 'x'], {
      LABSLOT_URL: bench.url,
      LABSLOT_TOKEN: 'not-a-worker-token',
      LABSLOT_WORKER: 'w-none',
      LABSLOT_SLOT: 'bench-1',
    });
    assert.equal(stranger.code, 1);
    assert.equal(hasStackTrace(stranger.stderr), false);
  });
});
