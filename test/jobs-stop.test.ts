// Stopping jobs that do not want to stop: SIGTERM is ignored and children
// were forked, one into its own session. After stop_grace, SIGKILL reaches
// every process of the worker's UID, whichever way the stop came. And a stop
// that comes while the job is being started, before its sandbox has become
// the worker, still stops it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processesOf } from '../src/platform/user-processes.js';
import type { JobView } from './helpers/api-types.js';
import { eventually } from './helpers/eventually.js';
import { jobLab, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

// The children inherit the ignored SIGTERM; the script itself notes the SIGTERM in its output and
// goes on (its foreground sleep dies of it and is started again).
const STUBBORN = [
  "trap '' TERM",
  'sleep 1000 &',
  "setsid sh -c 'sleep 1000' &",
  'trap \'echo "got SIGTERM, going on"\' TERM',
  'echo "uid=$(id -u)"',
  'while :; do sleep 1000; done',
].join('\n');

/**
 * What the agent logged about stopping this job: the SIGTERM went out with 'stopping job' (with the
 * grace), and the job's process ended with 'job exited'. Both times are the agent's own.
 */
function stopRecord(lab: JobLab, id: string): { cause: unknown; graceMs: number; signal: unknown; waitedMs: number } {
  const ofJob = lab.agent.logs.filter((l) => l['job'] === id);
  const stopping = ofJob.find((l) => l['msg'] === 'stopping job');
  const exited = ofJob.find((l) => l['msg'] === 'job exited');
  assert.ok(stopping && exited, `the agent logged the stop and the exit: ${JSON.stringify(ofJob)}`);
  return {
    cause: stopping['cause'],
    graceMs: stopping['graceMs'] as number,
    signal: exited['signal'],
    waitedMs: Date.parse(exited['time'] as string) - Date.parse(stopping['time'] as string),
  };
}

/**
 * The job shrugged off its SIGTERM (its output says so) and only the SIGKILL after the whole grace
 * ended it, as the agent's own log times show.
 */
async function assertKilledAfterGrace(lab: JobLab, id: string, job: JobView, cause: string): Promise<void> {
  assert.match(await lab.output(id), /^got SIGTERM, going on$/m);
  assert.equal(job.signal, 'SIGKILL');
  const stop = stopRecord(lab, id);
  assert.deepEqual([stop.cause, stop.graceMs, stop.signal], [cause, 1_000, 'SIGKILL']);
  assert.ok(
    stop.waitedMs >= stop.graceMs,
    `killed ${stop.waitedMs} ms after the SIGTERM, before the grace of ${stop.graceMs} ms was over`,
  );
}

describe('stopping jobs', () => {
  it('a timeout ends a job that ignores SIGTERM, with its children, after stop_grace', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('setsid', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"');
    const id = await lab.submit({ target: 'tb', script: STUBBORN, timeout: '1s' });
    const uid = Number((await lab.waitOutput(id, /uid=(\d+)/))[1]);
    assert.ok(processesOf(uid).length >= 3, 'the job and its two children run');
    const job = await lab.waitDone(id, 15_000);
    assert.equal(job.state, 'failed');
    assert.equal(job.end_reason, 'timed out after 1s');
    assert.equal(job.ended_by, 'timeout');
    assert.equal(job.infrastructure, false);
    assert.deepEqual(processesOf(uid), [], 'nothing of the worker UID survives');
    await assertKilledAfterGrace(lab, id, job, 'timeout');
  });

  it('a cancel does the same, and the job reads as cancelled', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('setsid', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"');
    const id = await lab.submit({ target: 'tb', script: STUBBORN });
    const uid = Number((await lab.waitOutput(id, /uid=(\d+)/))[1]);
    assert.ok(processesOf(uid).length >= 3, 'the job and its two children run');
    const cancel = await lab.post(`/v1/jobs/${id}/cancel`, {});
    assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
    const job = await lab.waitDone(id, 15_000);
    assert.equal(job.state, 'cancelled');
    assert.match(job.end_reason ?? '', /^cancelled by submitter:[0-9a-f]{8}$/);
    assert.deepEqual(processesOf(uid), []);
    await assertKilledAfterGrace(lab, id, job, 'cancel');
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

  it('a cancel the moment the lease starts the job stops it, before its sandbox has become the worker', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"');
    const id = await lab.submit({ target: 'tb', argv: ['sleep', '30'] });
    // The lease is starting the job: the cancel lands while its sandbox chain is still being built.
    await eventually(
      () => lab.agent.logs.some((l) => l['job'] === id && l['msg'] === 'lease phase' && l['to'] === 'starting'),
      { intervalMs: 1, timeoutMs: 15_000, message: 'the lease to start the job' },
    );
    const cancel = await lab.post(`/v1/jobs/${id}/cancel`, {});
    assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
    const job = await lab.waitDone(id, 15_000);
    assert.deepEqual([job.state, job.ended_by], ['cancelled', 'cancel']);
  });
});
