// A lease's phases as the agent logs them: one JSON line per change of phase,
// with a constant message and from/to (and what the new phase carries) in
// fields, read from a real agent running real jobs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobLab, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { eventually } from './helpers/eventually.js';

/** The job's phase lines, once its last one (done) is in the log. */
async function phasesOf(lab: JobLab, id: string): Promise<Record<string, unknown>[]> {
  const lines = (): Record<string, unknown>[] =>
    lab.agent.logs.filter((l) => l['msg'] === 'lease phase' && l['job'] === id);
  await eventually(() => lines().some((l) => l['to'] === 'done'), {
    message: `the lease of job ${id} to log its last phase`,
  });
  return lines();
}

describe('lease phases', () => {
  it('a job run to its end logs checking → setting-up → starting → running → cleaning → done', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const id = await lab.submit({ target: 'tb', argv: ['true'] });
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded');
    const phases = await phasesOf(lab, id);
    assert.deepEqual(
      phases.map((l) => `${String(l['from'])} → ${String(l['to'])}`),
      ['checking → setting-up', 'setting-up → starting', 'starting → running', 'running → cleaning', 'cleaning → done'],
    );
    for (const [i, line] of phases.entries()) {
      assert.equal(line['level'], 'info');
      // A worker exists (made now, or made ahead and taken) only once setting up has begun.
      const worker = i === 0 ? undefined : job.worker_id;
      assert.deepEqual([line['slot'], line['worker']], ['s1', worker], 'the lease logger carries its ids');
    }
    assert.equal(phases[2]?.['slotUsage'], 'running', 'the start was recorded');
    assert.equal(phases[3]?.['state'], 'succeeded');
    assert.equal(phases[4]?.['end'], 'idle');
  });

  it('a cancelled job passes through stopping, with the cause', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const id = await lab.submit({ target: 'tb', script: 'echo started\nwhile :; do sleep 0.1; done' });
    await lab.waitOutput(id, /started/);
    assert.equal((await lab.post(`/v1/jobs/${id}/cancel`, {})).status, 200);
    assert.equal((await lab.waitDone(id)).state, 'cancelled');
    const phases = await phasesOf(lab, id);
    assert.deepEqual(
      phases.slice(3).map((l) => [l['from'], l['to'], l['cause'] ?? l['state'] ?? l['end']]),
      [
        ['running', 'stopping', 'cancel'],
        ['stopping', 'cleaning', 'cancelled'],
        ['cleaning', 'done', 'idle'],
      ],
    );
  });
});
