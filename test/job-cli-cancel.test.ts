// Ctrl-C and SIGTERM on `labslot job run`, against a scripted stand-in of the
// job API: the job is cancelled and followed until it has stopped; a second
// Ctrl-C stops waiting; a job still being submitted is cancelled once it is.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { eventually } from './helpers/eventually.js';
import {
  jobJson,
  sendJson,
  startFakeAgent,
  startStream,
  writeBytes,
  type FakeAgent,
} from './helpers/fake-job-agent.js';
import { lines, spawnCli, SUBMITTER } from './helpers/job-cli.js';

describe('job run against a stand-in of the job API', () => {
  /**
   * A running job that prints "started", then "stopping" once it is cancelled, and ends. With
   * `endsWhenCancelled: false` it never ends: its output stream stays open and it reads as running.
   */
  async function cancellableJob(
    t: TestContext,
    options: { holdSubmission?: () => boolean; endsWhenCancelled?: boolean } = {},
  ): Promise<FakeAgent & { cancelled: () => boolean }> {
    let cancelled = false;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.method === 'POST' && r.path === '/v1/jobs') {
        if (options.holdSubmission)
          await eventually(options.holdSubmission, {
            timeoutMs: 15_000,
            message: 'the test to let the submission through',
          });
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
        // A job that does not end when cancelled stays running however often it is asked about.
        const view =
          cancelled && options.endsWhenCancelled !== false
            ? {
                state: 'cancelled' as const,
                done: true,
                signal: 'SIGTERM',
                end_reason: 'cancelled by submitter:4281a7c7',
              }
            : { state: 'running' as const };
        return sendJson(res, 200, jobJson({ slot: 'gimlet-1', output_bytes: 17, ...view }));
      }
    });
    return { ...agent, cancelled: () => cancelled };
  }

  it('cancels the job on Ctrl-C, streams until it has stopped, and exits 1', async (t) => {
    const agent = await cancellableJob(t);
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: SUBMITTER,
    });
    await eventually(() => run.stdout().toString() === 'started\n', { message: "the job's first output" });
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
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: SUBMITTER,
    });
    await eventually(() => run.stdout().length > 0, { message: "the job's first output" });
    run.signal('SIGTERM');
    assert.equal(await run.exited, 1, run.stderr());
    assert.equal(agent.cancelled(), true);
  });

  it('stops waiting at once on a second Ctrl-C', async (t) => {
    const agent = await cancellableJob(t, { endsWhenCancelled: false });
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: SUBMITTER,
    });
    await eventually(() => run.stdout().length > 0, { message: "the job's first output" });
    run.signal('SIGINT');
    await eventually(agent.cancelled, { message: 'the cancel' });
    await eventually(() => run.stderr().includes('interrupted; cancelling'), { message: 'the cancel to be announced' });
    // The job never ends, so a CLI that went on waiting for it would never exit: only the second Ctrl-C can end it.
    run.signal('SIGINT');
    assert.equal(await run.exited, 1, run.stderr());
    assert.deepEqual(lines(run.stderr()), [
      'labslot: job j0001 queued for gimlet',
      'labslot: job j0001 got slot gimlet-1',
      'labslot: interrupted; cancelling job j0001 and waiting for it to stop (Ctrl-C again to stop waiting)',
      'labslot: interrupted again; not waiting for job j0001',
    ]);
    assert.equal(run.stdout().toString(), 'started\n', 'the job never said it was stopping');
  });

  it('cancels a job it was still submitting when Ctrl-C came', async (t) => {
    let letThrough = false;
    const agent = await cancellableJob(t, { holdSubmission: () => letThrough });
    const run = spawnCli(t, ['job', 'run', '--target', 'gimlet', '--', 'sleep', '600'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: SUBMITTER,
    });
    await eventually(() => agent.requests.some((r) => r.path === '/v1/jobs'), { message: 'the submission' });
    run.signal('SIGINT');
    await eventually(() => run.stderr().includes('as soon as it is submitted'), {
      message: 'the interrupt to be noticed',
    });
    letThrough = true;
    assert.equal(await run.exited, 1, run.stderr());
    assert.equal(agent.cancelled(), true);
    assert.match(run.stderr(), /labslot: job j0001 cancelled: cancelled by submitter:4281a7c7\n$/);
  });
});
