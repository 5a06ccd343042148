// A host that goes away (DESIGN §7, issue 15): B loses power (kill -9) while
// it runs a job. The rest of the lab shows it offline within host_timeout and
// gives its slots nothing, does not run its job elsewhere (B may still be
// running it), and goes on with its own jobs; when B comes back it cleans up
// and the job ends failed, "agent restarted", as seen through any agent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabHostView, SlotView } from './helpers/api-types.js';
import { eventually } from './helpers/eventually.js';
import { apiRequest } from './helpers/job-api.js';
import { startLabHosts } from './helpers/lab-hosts.js';
import { allEvents, hostList, slotList } from './helpers/lab-views.js';
import { labDatabase, POSTGRES_CLUSTER } from './helpers/postgres.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('a host of the lab lost and back', () => {
  it('kill -9 of B while it runs a job: offline in the lab, its job not run elsewhere, failed once B is back', async (t) => {
    if (!requires(t, ROOT, POSTGRES_CLUSTER, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const database = await labDatabase(t);
    const lab = await startLabHosts(t, {
      database,
      labToml: 'host_timeout = "3s"\n',
      hosts: [
        { name: 'lab-a', slots: [{ name: 'la-1', target: 'gimlet' }] },
        // Only B serves sidecar: its job can run nowhere else.
        { name: 'lab-b', slots: [{ name: 'lb-1', target: 'sidecar' }] },
        { name: 'lab-c', slots: [{ name: 'lc-1', target: 'psc' }] },
      ],
    });
    const [a, b, c] = [lab.host('lab-a'), lab.host('lab-b'), lab.host('lab-c')];
    const hostsOnA = async (): Promise<Map<string, LabHostView>> =>
      new Map((await hostList(a.url)).hosts.map((h) => [h.name, h]));
    const before = await hostsOnA();
    assert.deepEqual(
      [...before.values()].map((h) => [h.name, h.online]),
      [
        ['lab-a', true],
        ['lab-b', true],
        ['lab-c', true],
      ],
    );

    const lost = await lab.submit(a.url, { target: 'sidecar', script: 'echo started; sleep 60' });
    await lab.waitOutput(a.url, lost, /started/, 30_000);
    // A's own job, running across B's loss and return.
    const own = await lab.submit(c.url, {
      target: 'gimlet',
      script: 'echo begun; sleep 4; echo "done on $LABSLOT_SLOT"',
    });
    await lab.waitOutput(a.url, own, /begun/, 30_000);

    await b.kill9();
    let view: LabHostView | undefined;
    await eventually(
      async () => {
        view = (await hostsOnA()).get('lab-b');
        return view?.online === false;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: () => `A to show lab-b offline: ${JSON.stringify(view)}` },
    );
    assert.equal((await hostsOnA()).get('lab-c')?.online, true, 'C is still online');
    const hostTimeout = (await hostList(a.url)).host_timeout_ms;
    assert.equal(hostTimeout, 3_000);

    // B's slot, as A shows it: unavailable because its host is.
    const slot = (await slotList(a.url)).slots.find((s) => s.name === 'lb-1');
    assert.ok(slot !== undefined);
    assert.equal(slot.host, 'lab-b');
    assert.deepEqual([slot.available, slot.unavailable?.kind], [false, 'host']);
    assert.match(slot.unavailable?.detail ?? '', /lab-b is offline/);
    const detail = (await apiRequest(a.url, 'GET', '/v1/slots/lb-1')).json as unknown as SlotView;
    assert.deepEqual([detail.available, detail.unavailable?.kind], [false, 'host']);

    // B's job is not given to anyone else: the lab still has it on B, as last heard.
    const meanwhile = await lab.job(a.url, lost);
    assert.deepEqual([meanwhile.host, meanwhile.slot, meanwhile.done], ['lab-b', 'lb-1', false]);
    // A job for B's slot waits, saying B is offline; its output cannot be read until B is back.
    const next = await lab.submit(c.url, { slot: 'lb-1', script: 'echo "after on $LABSLOT_SLOT"' });
    let waiting: string | null = null;
    await eventually(
      async () => {
        waiting = (await lab.job(a.url, next)).waiting;
        return /lab-b is offline/.test(waiting ?? '');
      },
      { timeoutMs: 10_000, message: () => `the job for lb-1 to wait for lab-b: ${waiting}` },
    );
    const unreadable = await apiRequest(a.url, 'GET', `/v1/jobs/${lost}/output`);
    assert.equal(unreadable.status, 503, JSON.stringify(unreadable.json));
    const error = unreadable.json['error'] as { code: string; message: string };
    assert.equal(error.code, 'host_offline');
    assert.match(error.message, /lab-b is offline/);

    // A's own job is not disturbed.
    const ownDone = await lab.waitDone(a.url, own, 30_000);
    assert.deepEqual([ownDone.state, ownDone.host], ['succeeded', 'lab-a']);
    assert.equal(await lab.output(c.url, own), 'begun\ndone on la-1\n');

    // B is back on its own state: it cleans up, the job ends failed as "agent restarted", seen through A.
    await b.restart();
    const ended = await lab.waitDone(a.url, lost, 30_000);
    assert.equal(ended.state, 'failed', JSON.stringify(ended));
    assert.match(ended.end_reason ?? '', /agent restarted/);
    assert.deepEqual([ended.host, ended.slot], ['lab-b', 'lb-1']);
    await eventually(async () => (await hostsOnA()).get('lab-b')?.online === true, {
      timeoutMs: 10_000,
      message: 'A to show lab-b online again',
    });
    // And B takes work again: the job that waited runs on it.
    const after = await lab.waitDone(a.url, next, 30_000);
    assert.deepEqual([after.state, after.host], ['succeeded', 'lab-b'], JSON.stringify(after));
    assert.equal(await lab.output(a.url, next), 'after on lb-1\n');

    // The lab's log: the lost job started once and ended once, both on B.
    const events = await allEvents(c.url);
    const of = (type: string): string[] =>
      events.filter((e) => e.type === type && e.job_id === lost).map((e) => e.host ?? '?');
    assert.deepEqual(of('job.started'), ['lab-b']);
    assert.deepEqual(of('job.ended'), ['lab-b']);
    assert.ok(!events.some((e) => e.type === 'slot.leased' && e.job_id === lost && e.host !== 'lab-b'));
  });
});
