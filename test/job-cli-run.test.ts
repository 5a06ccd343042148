// `labslot job run` against a scripted stand-in of the job API: raw bytes,
// reconnecting from the byte offset, exit codes, why a job waits, and giving
// up when the agent goes away.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobView } from './helpers/api-types.js';
import { hasStackTrace, runCli } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import {
  jobJson,
  sendError,
  sendJson,
  startFakeAgent,
  startStream,
  writeBytes,
  type FakeAgent,
} from './helpers/fake-job-agent.js';
import { cli, lines, NOT_IN_A_JOB, spawnCli, SUBMITTER } from './helpers/job-cli.js';

/** A job that is running on gimlet-1, whose output is `bytes`, ending as `final`. */
function runningJobAgent(t: TestContext, bytes: Buffer, final: Partial<JobView>): Promise<FakeAgent> {
  return startFakeAgent(t, async (r, res) => {
    if (r.method === 'POST' && r.path === '/v1/jobs')
      return sendJson(res, 201, { id: 'j0001', job: jobJson({ state: 'running', slot: 'gimlet-1' }) });
    if (r.path === '/v1/jobs/j0001/output') {
      startStream(res);
      await writeBytes(res, bytes.subarray(Number(r.query.get('offset'))));
      res.end();
      return;
    }
    if (r.path === '/v1/jobs/j0001')
      return sendJson(res, 200, jobJson({ slot: 'gimlet-1', output_bytes: bytes.length, done: true, ...final }));
    sendError(res, 404, 'not_found', `no route ${r.method} ${r.path}`);
  });
}

describe('job run against a stand-in of the job API', () => {
  it("writes the raw bytes, reconnects from the byte offset after a break, and exits with the job's code", async (t) => {
    // Not UTF-8 on purpose, and "é" (c3 a9) split across the break: the client must not decode anything.
    const first = Buffer.from([0x68, 0x69, 0x0a, 0xff, 0xfe, 0x00, 0xc3]);
    const second = Buffer.concat([Buffer.from([0xa9]), Buffer.from('tail without a newline')]);
    const all = Buffer.concat([first, second]);
    let finished = false;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.method === 'POST' && r.path === '/v1/jobs')
        return sendJson(res, 201, { id: 'j0001', job: jobJson({ state: 'running', slot: 'gimlet-1' }) });
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
        const view = finished
          ? { state: 'failed' as const, exit_code: 3, end_reason: 'exit code 3', ended_by: 'exit' as const, done: true }
          : { state: 'running' as const };
        return sendJson(res, 200, jobJson({ slot: 'gimlet-1', output_bytes: all.length, ...view }));
      }
    });
    const run = spawnCli(
      t,
      [
        'job',
        'run',
        '--target',
        'gimlet',
        '--timeout',
        '90s',
        '--priority',
        '-5',
        '--env',
        'A=1',
        '--env',
        'B=x=y',
        '--env',
        'A=2',
        '--env',
        'EMPTY=',
        '--',
        'make',
        '-j4',
        'test',
      ],
      {
        LABSLOT_URL: agent.url,
        LABSLOT_TOKEN: SUBMITTER,
      },
    );
    assert.equal(await run.exited, 3, run.stderr());
    assert.deepEqual(run.stdout(), all);
    assert.equal(run.stderr(), 'labslot: job j0001 queued for gimlet\nlabslot: job j0001 got slot gimlet-1\n');

    const submit = agent.requests.find((r) => r.method === 'POST' && r.path === '/v1/jobs');
    assert.ok(submit);
    assert.deepEqual(submit.body, {
      target: 'gimlet',
      argv: ['make', '-j4', 'test'],
      env: { A: '2', B: 'x=y', EMPTY: '' },
      timeout: '90s',
      priority: -5,
    });
    assert.equal(submit.authorization, `Bearer ${SUBMITTER}`);
    const outputs = agent.requests.filter((r) => r.path.endsWith('/output'));
    assert.deepEqual(
      outputs.map((r) => [r.query.get('offset'), r.query.get('follow')]),
      [
        ['0', '1'],
        [String(first.length), '1'],
      ],
    );
  });

  it("exits with the job's own code only when the job ran to its end; otherwise 1 and one line saying why", async (t) => {
    const cases: [Partial<JobView>, number, string | undefined][] = [
      [{ state: 'succeeded', exit_code: 0, end_reason: 'exit code 0', ended_by: 'exit' }, 0, undefined],
      [{ state: 'failed', exit_code: 3, end_reason: 'exit code 3', ended_by: 'exit' }, 3, undefined],
      [{ state: 'failed', exit_code: 2, end_reason: 'exit code 2', ended_by: 'exit' }, 2, undefined],
      // The job exited 0 after marking its slot broken: still the lab's failure.
      [
        {
          state: 'failed',
          exit_code: 0,
          infrastructure: true,
          end_reason: 'marked broken: SP probe does not attach',
          ended_by: 'infrastructure',
        },
        1,
        'job j0001 failed: marked broken: SP probe does not attach',
      ],
      // A job that traps SIGTERM at its timeout and exits 143 must not pass that off as its verdict.
      [
        { state: 'failed', exit_code: 143, signal: null, end_reason: 'timed out after 10s', ended_by: 'timeout' },
        1,
        'job j0001 failed: timed out after 10s',
      ],
      [
        { state: 'failed', exit_code: null, signal: 'SIGKILL', end_reason: 'killed by SIGKILL', ended_by: 'signal' },
        1,
        'job j0001 failed: killed by SIGKILL',
      ],
      [
        {
          state: 'failed',
          exit_code: null,
          infrastructure: true,
          end_reason: 'agent stopped while the job ran',
          ended_by: 'infrastructure',
        },
        1,
        'job j0001 failed: agent stopped while the job ran',
      ],
      [
        {
          state: 'cancelled',
          exit_code: null,
          signal: 'SIGTERM',
          end_reason: 'cancelled by operator:61112491',
          ended_by: 'cancel',
        },
        1,
        'job j0001 cancelled: cancelled by operator:61112491',
      ],
      [{ state: 'failed', exit_code: null, signal: null, end_reason: null }, 1, 'job j0001 failed: no reason given'],
    ];
    for (const [final, code, line] of cases) {
      const agent = await runningJobAgent(t, Buffer.from('out\n'), final);
      const result = await cli(['job', 'run', '--target', 'gimlet', '--', 'make', 'test'], {
        LABSLOT_URL: agent.url,
        LABSLOT_TOKEN: SUBMITTER,
      });
      const label = JSON.stringify(final);
      assert.equal(result.code, code, `${label}: ${result.stderr}`);
      assert.equal(result.stdout, 'out\n', label);
      assert.deepEqual(
        lines(result.stderr),
        [
          'labslot: job j0001 queued for gimlet',
          'labslot: job j0001 got slot gimlet-1',
          ...(line === undefined ? [] : [`labslot: ${line}`]),
        ],
        label,
      );
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
    const result = await cli(['job', 'run', '--target', 'gimlet', '--', 'true'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: SUBMITTER,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'ok\n');
    assert.deepEqual(lines(result.stderr), [
      'labslot: job j0001 queued for gimlet',
      'labslot: job j0001 waiting: gimlet: 1 held, 1 unhealthy (gimlet-2-console: no answer), 0 free',
      'labslot: job j0001 waiting: gimlet: 1 held, 1 leased, 0 free',
      'labslot: job j0001 got slot gimlet-2',
    ]);
  });

  it('gives up after its retries when the agent goes away, in one line', async (t) => {
    let gone = false;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.method === 'POST' && r.path === '/v1/jobs')
        return sendJson(res, 201, { id: 'j0001', job: jobJson({ state: 'running', slot: 'gimlet-1' }) });
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
    const result = await runCli(['job', 'run', '--target', 'gimlet', '--', 'true'], {
      env: { ...NOT_IN_A_JOB, LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER },
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, 'partial');
    const said = lines(result.stderr);
    assert.match(
      said.at(-1) ?? '',
      /^labslot: lost the agent while reading the output of job j0001 at byte 7, 8 attempts in a row: /,
    );
    assert.equal(said.filter((l) => l.startsWith('labslot: lost the output of job j0001')).length, 7, result.stderr);
    assert.equal(hasStackTrace(result.stderr), false);
  });
});
