// The fresh pre-lease check: a console that vanished since the last periodic
// check is caught right before the lease. The job stays queued with a reason
// that names what is wrong, and the slot is unhealthy at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SlotDetailView } from './helpers/api-types.js';
import { eventually } from './helpers/eventually.js';
import { jobLab, OPERATOR_TOKEN, waitHealthy } from './helpers/job-lab.js';
import { ptyPair } from './helpers/pty-pair.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('pre-lease check', () => {
  it('keeps the job queued when the slot fails it, and marks the slot unhealthy', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    // The periodic check runs hourly here: only the pre-lease check can notice the console is gone.
    const lab = await jobLab(t, [
      { name: 's1', target: 'tb' },
      { name: 's2', target: 'tb' },
    ]);
    assert.equal((await lab.post('/v1/slots/s2/hold', { reason: 'rewiring' }, OPERATOR_TOKEN)).status, 200);
    await lab.consoles.get('s1')?.kill();

    const id = await lab.submit({ target: 'tb', argv: ['true'] });
    await eventually(async () => ((await lab.job(id)).waiting ?? '').includes('unhealthy'), {
      timeoutMs: 5_000,
      intervalMs: 25,
      message: 'the job to wait on an unhealthy slot',
    });
    const job = await lab.job(id);
    assert.equal(job.state, 'queued');
    assert.match(job.waiting ?? '', /^tb: 1 held, 1 unhealthy \(s1-con: serial \S+s1-dev not present\), 0 free$/);
    const slot = (await (await fetch(`${lab.agent.url}/v1/slots/s1`)).json()) as SlotDetailView;
    assert.equal(slot.health, 'unhealthy');
    assert.equal(slot.usage, 'idle');
    assert.deepEqual(slot.devices[0]?.history[0], { ...slot.devices[0]?.history[0], trigger: 'pre-lease', ok: false });
    const failed = (await lab.events('&slot=s1')).filter((e) => e.type === 'lease.check-failed');
    assert.equal(failed.length, 1, 'one failed pre-lease check; the unhealthy slot is not tried again');

    // The console comes back and passes a check: the queued job runs there.
    await ptyPair(t, lab.dir, 's1');
    assert.equal((await lab.post('/v1/slots/s1/check', {}, OPERATOR_TOKEN)).status, 200);
    await waitHealthy(lab.agent.url, 's1');
    const done = await lab.waitDone(id);
    assert.deepEqual({ state: done.state, slot: done.slot }, { state: 'succeeded', slot: 's1' });
  });
});
