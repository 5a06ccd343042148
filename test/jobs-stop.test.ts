// Stopping jobs that do not want to stop: SIGTERM is ignored and children
// were forked, one into its own session. After stop_grace, SIGKILL reaches
// every process of the worker's UID, whichever way the stop came.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processesOf } from '../src/platform/user-processes.js';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const STUBBORN = [
  "trap '' TERM",
  "sleep 1000 &",
  "setsid sh -c 'sleep 1000' &",
  'echo "uid=$(id -u)"',
  'sleep 1000',
].join('\n');

describe('stopping jobs', () => {
  it('a timeout ends a job that ignores SIGTERM, with its children, after stop_grace', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('setsid', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"');
    const id = await lab.submit({ target: 'tb', script: STUBBORN, timeout: '1s' });
    const uid = Number((await lab.waitOutput(id, /uid=(\d+)/))[1]);
    assert.ok(processesOf(uid).length >= 3, 'the job and its two children run');
    const started = Date.now();
    const job = await lab.waitDone(id, 15_000);
    const took = Date.now() - started;
    assert.equal(job.state, 'failed');
    assert.equal(job.end_reason, 'timed out after 1s');
    assert.equal(job.ended_by, 'timeout');
    assert.equal(job.infrastructure, false);
    assert.deepEqual(processesOf(uid), [], 'nothing of the worker UID survives');
    // About 1 s to the timeout, 1 s of grace ignored, then SIGKILL and cleanup.
    assert.ok(took >= 1_000 && took < 6_000, `ended ${took} ms after it started`);
  });

  it('a cancel does the same, and the job reads as cancelled', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('setsid', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"');
    const id = await lab.submit({ target: 'tb', script: STUBBORN });
    const uid = Number((await lab.waitOutput(id, /uid=(\d+)/))[1]);
    const cancelledAt = Date.now();
    const cancel = await lab.post(`/v1/jobs/${id}/cancel`, {});
    assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
    const job = await lab.waitDone(id, 15_000);
    const took = Date.now() - cancelledAt;
    assert.equal(job.state, 'cancelled');
    assert.match(job.end_reason ?? '', /^cancelled by submitter:[0-9a-f]{8}$/);
    assert.deepEqual(processesOf(uid), []);
    assert.ok(took >= 1_000 && took < 5_000, `SIGTERM ignored, so the grace of 1 s passed before SIGKILL: ${took} ms`);
    const again = await lab.post(`/v1/jobs/${id}/cancel`, {});
    assert.equal(again.status, 409);

    // A queued job is cancelled at once, without ever getting a slot.
    const blocker = await lab.submit({ target: 'tb', argv: ['sleep', '30'] });
    const queued = await lab.submit({ target: 'tb', argv: ['true'] });
    const early = await lab.post(`/v1/jobs/${queued}/cancel`, {}, 'job-lab-operator');
    assert.equal(early.status, 200);
    assert.equal((await lab.job(queued)).state, 'cancelled');
    assert.equal((await lab.job(queued)).slot, null);
    await lab.post(`/v1/jobs/${blocker}/cancel`, {});
    await lab.waitDone(blocker);
  });
});
