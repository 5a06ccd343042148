// One queue for a whole lab (DESIGN §7, issue 15): 200 jobs submitted at once
// through three agents, for targets every host serves, with slots that may not
// run together (conflicts_with_slots, and a device two slots share). The lab's
// own event log is the witness: every job ends exactly once, on one host, and
// no slot, nor any two conflicting slots, is ever leased twice at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventView, JobView } from './helpers/api-types.js';
import { eventually } from './helpers/eventually.js';
import { apiRequest } from './helpers/job-api.js';
import { startLabHosts, type LabHostDef } from './helpers/lab-hosts.js';
import { allEvents } from './helpers/lab-views.js';
import { labDatabase, POSTGRES_CLUSTER } from './helpers/postgres.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const JOBS = 200;

// Every host serves both targets. Conflicting pairs: ga-1/sa-1 (listed), gb-1/gb-2 (one device), sc-1/sc-2 (listed).
const HOSTS: LabHostDef[] = [
  {
    name: 'lab-a',
    slots: [
      { name: 'ga-1', target: 'gimlet', extra: 'conflicts_with_slots = ["sa-1"]\n' },
      { name: 'ga-2', target: 'gimlet' },
      { name: 'sa-1', target: 'sidecar' },
    ],
  },
  {
    name: 'lab-b',
    slots: [
      { name: 'gb-1', target: 'gimlet', devices: ['bench-b'] },
      { name: 'gb-2', target: 'gimlet', devices: ['bench-b'] },
      { name: 'sb-1', target: 'sidecar' },
    ],
    extraToml: '[devices.bench-b]\nkind = "command"\nargv = ["true"]\n',
  },
  {
    name: 'lab-c',
    slots: [
      { name: 'gc-1', target: 'gimlet' },
      { name: 'sc-1', target: 'sidecar', extra: 'conflicts_with_slots = ["sc-2"]\n' },
      { name: 'sc-2', target: 'sidecar' },
    ],
  },
];

/** Pairs that may not be leased at once, as the configs above say (both directions). */
const CONFLICTS: [string, string][] = [
  ['ga-1', 'sa-1'],
  ['gb-1', 'gb-2'],
  ['sc-1', 'sc-2'],
];

/** The slots some jobs ask for by name. */
const NAMED = CONFLICTS.flat();

function conflict(a: string, b: string): boolean {
  return CONFLICTS.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

describe('a lab of three hosts under 200 concurrent submissions', () => {
  it('runs every job exactly once, never two on one slot, never two conflicting slots at once', async (t) => {
    if (!requires(t, ROOT, POSTGRES_CLUSTER, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const database = await labDatabase(t);
    const lab = await startLabHosts(t, { database, hosts: HOSTS });
    const fronts = lab.hosts;

    const ids = await Promise.all(
      Array.from({ length: JOBS }, (_, i) =>
        lab.submit(fronts[i % fronts.length]?.url ?? '', {
          // Every fourth names a slot of a conflicting pair, so both slots of each pair are leased, not only the first.
          ...(i % 4 === 3
            ? { slot: NAMED[Math.floor(i / 4) % NAMED.length] }
            : { target: i % 2 === 0 ? 'gimlet' : 'sidecar' }),
          // Mostly instant; some linger so leases overlap and conflicts matter.
          ...(i % 10 === 0 ? { script: 'sleep 0.3' } : { argv: ['true'] }),
          ...(i % 7 === 0 ? { priority: 5 } : {}),
        }),
      ),
    );
    assert.equal(new Set(ids).size, JOBS, 'every submission got its own id');

    // The lab's job list, read through any agent (here C), until all of them are done.
    let jobs = new Map<string, JobView>();
    await eventually(
      async () => {
        const { json } = await apiRequest(lab.host('lab-c').url, 'GET', '/v1/jobs?limit=1000');
        jobs = new Map((json['jobs'] as JobView[]).map((job) => [job.id, job]));
        return ids.every((id) => jobs.get(id)?.done === true);
      },
      {
        timeoutMs: 100_000,
        intervalMs: 250,
        message: () => {
          const open = ids.filter((id) => jobs.get(id)?.done !== true);
          const some = open.slice(0, 5).map((id) => {
            const job = jobs.get(id);
            return `${id}: ${job?.state} on ${job?.host}/${job?.slot} (${job?.waiting})`;
          });
          return `all ${JOBS} jobs to end; ${open.length} not yet: ${some.join('; ')}`;
        },
      },
    );

    const slotsOf = new Map(HOSTS.map((h) => [h.name, new Map(h.slots.map((s) => [s.name, s.target]))]));
    for (const id of ids) {
      const job = jobs.get(id);
      assert.ok(job !== undefined);
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
      assert.equal(slotsOf.get(job.host ?? '')?.get(job.slot ?? ''), job.target, `${id} ran on a slot of its target`);
    }

    const events = await allEvents(lab.host('lab-a').url);
    assert.ok(events.length > 1000, `${events.length} events, read over several pages`);
    // Lab-wide ids, each host's events with their host.
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'event ids are unique lab-wide');
    assert.ok(events.every((e) => typeof e.host === 'string' && slotsOf.has(e.host)));
    const ours = new Set(ids);
    const count = (type: string): Map<string, EventView[]> => {
      const byJob = new Map<string, EventView[]>();
      for (const e of events)
        if (e.type === type && e.job_id !== null && ours.has(e.job_id))
          byJob.set(e.job_id, [...(byJob.get(e.job_id) ?? []), e]);
      return byJob;
    };
    const ended = count('job.ended');
    const started = count('job.started');
    for (const id of ids) {
      const host = jobs.get(id)?.host;
      assert.deepEqual(
        ended.get(id)?.map((e) => e.host),
        [host],
        `${id} ended once, on its host: ${JSON.stringify(ended.get(id))}`,
      );
      assert.deepEqual(
        started.get(id)?.map((e) => e.host),
        [host],
        `${id} started once, on its host`,
      );
    }

    // Leases per host, in that host's order: a slot is leased until it is idle again (or its pre-lease check
    // failed); a lease on a slot already leased, or beside a conflicting one, is what must never happen.
    let leases = 0;
    for (const host of slotsOf.keys()) {
      const leased = new Map<string, string | null>();
      for (const e of events.filter((x) => x.host === host).sort((x, y) => x.id - y.id)) {
        const slot = e.slot ?? '';
        if (e.type === 'slot.leased') {
          assert.ok(!leased.has(slot), `${host}: ${slot} leased to ${e.job_id} while ${leased.get(slot)} had it`);
          for (const [other, job] of leased)
            assert.ok(!conflict(slot, other), `${host}: ${slot} leased to ${e.job_id} while ${other} ran ${job}`);
          leased.set(slot, e.job_id);
          leases += 1;
        } else if (e.type === 'slot.idle' || e.type === 'lease.check-failed') leased.delete(slot);
      }
      assert.deepEqual([...leased.keys()], [], `${host}: every lease ended`);
    }
    assert.ok(leases >= JOBS, `${leases} leases for ${JOBS} jobs`);
    for (const slot of NAMED)
      assert.ok(
        ids.some((id) => jobs.get(id)?.slot === slot),
        `${slot} ran none of the jobs`,
      );
    // The load was the lab's: every host ran some of it.
    for (const host of slotsOf.keys())
      assert.ok(
        ids.some((id) => jobs.get(id)?.host === host),
        `${host} ran none of the jobs`,
      );
  });
});
