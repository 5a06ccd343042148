// The lab's database goes away under load (DESIGN §7, issue 15): PostgreSQL
// (a private cluster: stopping the shared one would break other tests) is
// stopped for 20 s while jobs run and more wait. Each host finishes and
// cleans up what it runs, claims nothing, and says its lab link is down and
// why; once the database is back every job has run exactly once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobView } from './helpers/api-types.js';
import { eventually } from './helpers/eventually.js';
import { apiRequest } from './helpers/job-api.js';
import { startLabHosts } from './helpers/lab-hosts.js';
import { allEvents, healthz, slotList, type LabLink } from './helpers/lab-views.js';
import { POSTGRES_SERVER, privatePostgres } from './helpers/postgres.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const OUTAGE_MS = 20_000;
const JOBS = 12;

describe('the lab database stopped under load', () => {
  it('running jobs finish and clean up, nothing is lost or run twice, queued jobs run once it is back', async (t) => {
    if (!requires(t, ROOT, POSTGRES_SERVER, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const pg = await privatePostgres(t);
    const lab = await startLabHosts(t, {
      database: pg,
      hosts: ['a', 'b', 'c'].map((h) => ({
        name: `lab-${h}`,
        slots: [1, 2].map((n) => ({ name: `o${h}-${n}`, target: 'gimlet' })),
      })),
    });
    const fronts = lab.hosts;

    // Six slots, twelve jobs: six run into the outage, six wait through it.
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i += 1)
      ids.push(
        await lab.submit(fronts[i % 3]?.url ?? '', {
          target: 'gimlet',
          script: 'echo "start on $LABSLOT_SLOT"; sleep 4; echo end',
        }),
      );
    let running: JobView[] = [];
    await eventually(
      async () => {
        const { json } = await apiRequest(fronts[0]?.url ?? '', 'GET', '/v1/jobs?state=running&limit=100');
        running = json['jobs'] as JobView[];
        return running.length === 6;
      },
      { timeoutMs: 30_000, message: () => `six jobs running: ${running.map((j) => j.id).join(', ')}` },
    );

    await pg.stop();
    const stoppedAt = Date.now();
    // Every agent says its lab link is down, and why, on /healthz and GET /v1/slots.
    for (const host of fronts) {
      let link: LabLink | undefined;
      await eventually(
        async () => {
          link = (await healthz(host.url))['lab'] as LabLink | undefined;
          return link?.connected === false;
        },
        { timeoutMs: 10_000, message: () => `${host.name}'s /healthz to say the lab is down: ${JSON.stringify(link)}` },
      );
      assert.ok((link?.problem ?? '').length > 0, `${host.name} names the problem: ${JSON.stringify(link)}`);
      const slots = await slotList(host.url);
      assert.equal(slots.lab?.connected, false);
      assert.ok((slots.lab.problem ?? '').length > 0);
      // Its own slots are still shown.
      assert.deepEqual(
        slots.slots.map((s) => s.host),
        [host.name, host.name],
      );
    }
    // A submission now is refused with the reason, not lost.
    const refused = await apiRequest(fronts[1]?.url ?? '', 'POST', '/v1/jobs', { target: 'gimlet', argv: ['true'] });
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    assert.equal((refused.json['error'] as { code: string }).code, 'lab_unavailable');

    // The running jobs end and are cleaned up on their hosts, which answer for them from their own record.
    for (const job of running) {
      const owner = lab.host(job.host ?? '');
      const done = await lab.waitDone(owner.url, job.id, 30_000);
      assert.equal(done.state, 'succeeded', JSON.stringify(done));
      assert.equal(await lab.output(owner.url, job.id), `start on ${job.slot}\nend\n`);
    }
    for (const host of fronts)
      await eventually(async () => (await slotList(host.url, '?host=local')).slots.every((s) => s.usage === 'idle'), {
        timeoutMs: 20_000,
        message: `${host.name}'s slots to be idle (cleaned up, nothing new taken)`,
      });

    // The rest of the outage (the scenario's 20 s, not a wait for anything): nobody takes the queued jobs.
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));
    for (const host of fronts) {
      const slots = (await slotList(host.url, '?host=local')).slots;
      assert.deepEqual(
        slots.map((s) => [s.name, s.usage]),
        slots.map((s) => [s.name, 'idle']),
        `${host.name} claimed nothing without the lab`,
      );
    }

    await pg.start();
    for (const host of fronts)
      await eventually(async () => ((await healthz(host.url))['lab'] as LabLink | undefined)?.connected === true, {
        timeoutMs: 20_000,
        message: `${host.name} to link to the lab again`,
      });
    // Every job, read through any agent: ended once, succeeded, its whole output.
    for (const [i, id] of ids.entries()) {
      const front = fronts[i % 3]?.url ?? '';
      const done = await lab.waitDone(front, id, 60_000);
      assert.equal(done.state, 'succeeded', JSON.stringify(done));
      assert.equal(await lab.output(front, id), `start on ${done.slot}\nend\n`);
    }
    const events = await allEvents(fronts[2]?.url ?? '');
    for (const id of ids) {
      const host = (await lab.job(fronts[0]?.url ?? '', id)).host;
      for (const type of ['job.started', 'job.ended'])
        assert.deepEqual(
          events.filter((e) => e.type === type && e.job_id === id).map((e) => e.host),
          [host],
          `${id}: ${type} once, on ${host}`,
        );
    }
  });
});
