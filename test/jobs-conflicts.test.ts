// 50 jobs submitted at once to slots that conflict explicitly and through a
// shared device: every job runs, and the audit log shows no slot leased twice
// and no two conflicting slots in use at the same time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventView } from './helpers/api-types.js';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const CONFLICTS: Record<string, string[]> = {
  a1: ['a2'],
  a2: ['a1'],
  b1: ['b2'],
  b2: ['b1'],
  c1: [],
};

describe('conflicts under concurrency', () => {
  it('never leases one slot twice or two conflicting slots at once', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(
      t,
      [
        { name: 'a1', target: 'tb', extra: 'conflicts_with_slots = ["a2"]' },
        { name: 'a2', target: 'tb' },
        { name: 'b1', target: 'tb', devices: ['bench-psu'] },
        { name: 'b2', target: 'tb', devices: ['bench-psu'] },
        { name: 'c1', target: 'tb' },
      ],
      '[devices.bench-psu]\nkind = "command"\nargv = ["true"]\n',
    );
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        lab.submit({ target: 'tb', argv: ['sh', '-c', `echo job ${i}; sleep 0.05`] }),
      ),
    );
    const jobs = [];
    // One waiter at a time: 50 pollers would load the agent more than the jobs do.
    for (const id of ids) jobs.push(await lab.waitDone(id, 90_000));
    assert.deepEqual(
      jobs.filter((j) => j.state !== 'succeeded'),
      [],
      'every job succeeded',
    );

    // Replay the audit log in order: a lease starts at slot.leased and ends at slot.idle or a failed pre-lease check.
    const events = (await lab.events('&after_id=0')).filter((e: EventView) =>
      ['slot.leased', 'slot.idle', 'lease.check-failed'].includes(e.type),
    );
    const active = new Set<string>();
    let leases = 0;
    let maxParallel = 0;
    for (const event of events) {
      const slot = event.slot ?? '';
      if (event.type === 'slot.leased') {
        assert.ok(!active.has(slot), `event ${event.id}: ${slot} leased while already leased`);
        for (const other of CONFLICTS[slot] ?? [])
          assert.ok(!active.has(other), `event ${event.id}: ${slot} leased while ${other} is in use`);
        active.add(slot);
        leases += 1;
        maxParallel = Math.max(maxParallel, active.size);
      } else {
        active.delete(slot);
      }
    }
    assert.equal(leases, 50, 'one lease per job');
    assert.equal(active.size, 0);
    assert.equal(maxParallel, 3, 'a, b and c ran side by side, one slot of each pair at a time');
    // Slots are taken in name order, so the first of each pair serves every job.
    assert.deepEqual([...new Set(jobs.map((j) => j.slot))].sort(), ['a1', 'b1', 'c1']);
  });
});
