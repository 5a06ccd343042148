// Holds in a lab (DESIGN §7, issue 15): an operator holds a slot of host B
// through host C; the whole lab sees the hold and B leases nothing on it; a
// release through host A puts it back in rotation only after a fresh check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SlotView } from './helpers/api-types.js';
import { eventually } from './helpers/eventually.js';
import { apiRequest, OPERATOR_TOKEN } from './helpers/job-api.js';
import { startLabHosts } from './helpers/lab-hosts.js';
import { allEvents, slotList } from './helpers/lab-views.js';
import { labDatabase, POSTGRES_CLUSTER } from './helpers/postgres.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('holds in a lab of hosts', () => {
  it('a slot of B held through C takes nothing, lab-wide, until a release through A and a fresh check', async (t) => {
    if (!requires(t, ROOT, POSTGRES_CLUSTER, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const database = await labDatabase(t);
    const lab = await startLabHosts(t, {
      database,
      hosts: [
        { name: 'lab-a', slots: [{ name: 'ha-1', target: 'gimlet' }] },
        {
          name: 'lab-b',
          slots: [
            { name: 'hb-1', target: 'gimlet' },
            { name: 'hb-2', target: 'sidecar' },
          ],
        },
        { name: 'lab-c', slots: [{ name: 'hc-1', target: 'psc' }] },
      ],
    });
    const [a, b, c] = [lab.host('lab-a'), lab.host('lab-b'), lab.host('lab-c')];

    const held = await lab.post(
      c.url,
      '/v1/slots/hb-1/hold',
      { reason: 'SP probe flaky', by: 'alice' },
      OPERATOR_TOKEN,
    );
    assert.equal(held.status, 200, JSON.stringify(held.json));
    // B itself has the hold, and every agent shows it with B as the slot's host.
    assert.equal((await lab.slot(b.url, 'hb-1')).hold?.reason, 'SP probe flaky');
    let last: SlotView | undefined;
    const seen = await eventually(
      async () => {
        last = (await slotList(a.url)).slots.find((s) => s.name === 'hb-1');
        return last?.hold?.reason === 'SP probe flaky' && last;
      },
      { timeoutMs: 10_000, message: () => `A to show the hold on hb-1: ${JSON.stringify(last)}` },
    );
    assert.equal(seen.host, 'lab-b');
    assert.match(seen.hold?.by ?? '', /^alice/);
    assert.deepEqual([seen.available, seen.unavailable?.kind], [false, 'held']);
    assert.ok((await slotList(a.url, '?host=lab-b')).slots.some((s) => s.name === 'hb-1' && s.hold !== null));
    assert.equal((await lab.slot(a.url, 'hb-1')).hold?.reason, 'SP probe flaky', "A's slot detail (from B)");

    // Enforced lab-wide: a job naming the slot is refused at any front door, and gimlet jobs go elsewhere.
    const named = await apiRequest(a.url, 'POST', '/v1/jobs', { slot: 'hb-1', argv: ['true'] });
    assert.equal(named.status, 400, JSON.stringify(named.json));
    assert.match(JSON.stringify(named.json), /held/);
    const elsewhere = await Promise.all(
      [a, b, c, a].map((front) => lab.submit(front.url, { target: 'gimlet', argv: ['true'] })),
    );
    for (const id of elsewhere) {
      const done = await lab.waitDone(c.url, id, 30_000);
      assert.deepEqual([done.state, done.host, done.slot], ['succeeded', 'lab-a', 'ha-1'], id);
    }

    // With the other gimlet held too (through A, its own host), a gimlet job waits, and says why lab-wide.
    const second = await lab.post(a.url, '/v1/slots/ha-1/hold', { reason: 'rewiring' }, OPERATOR_TOKEN);
    assert.equal(second.status, 200, JSON.stringify(second.json));
    await eventually(
      async () => (await slotList(b.url)).slots.find((s) => s.name === 'ha-1')?.hold?.reason === 'rewiring',
      { timeoutMs: 10_000, message: "B to show A's hold on ha-1" },
    );
    const waiting = await lab.submit(b.url, { target: 'gimlet', script: 'echo "on $LABSLOT_SLOT"' });
    let why: string | null = null;
    await eventually(
      async () => {
        why = (await lab.job(c.url, waiting)).waiting;
        return /lab-a: [^;]*held/.test(why ?? '') && /lab-b: [^;]*held/.test(why ?? '');
      },
      { timeoutMs: 10_000, message: () => `the queued job to say both gimlets are held: ${why}` },
    );
    // The queue goes on meanwhile (sidecar on B, psc on C), and still nothing for gimlet.
    for (const target of ['sidecar', 'psc']) {
      const id = await lab.submit(a.url, { target, argv: ['true'] });
      assert.equal((await lab.waitDone(a.url, id, 30_000)).state, 'succeeded');
    }
    const queued = await lab.job(a.url, waiting);
    assert.deepEqual([queued.state, queued.host, queued.slot], ['queued', null, null]);

    // Released through A (the request goes to B): checked at once, then the waiting job gets the slot.
    const releasedAt = Date.now();
    const released = await lab.post(a.url, '/v1/slots/hb-1/release', { note: 'probe reseated' }, OPERATOR_TOKEN);
    assert.equal(released.status, 200, JSON.stringify(released.json));
    assert.deepEqual([released.json['released'], released.json['healthy']], [true, true]);
    const ran = await lab.waitDone(c.url, waiting, 30_000);
    assert.deepEqual([ran.state, ran.host, ran.slot], ['succeeded', 'lab-b', 'hb-1'], JSON.stringify(ran));
    assert.equal(await lab.output(a.url, waiting), 'on hb-1\n');

    const detail = await lab.slot(a.url, 'hb-1');
    assert.equal(detail.hold, null);
    const releaseCheck = detail.devices[0]?.history.find((h) => h.trigger === 'release');
    assert.ok(
      releaseCheck !== undefined && Date.parse(releaseCheck.at) >= releasedAt - 1_000,
      JSON.stringify(detail.devices),
    );
    assert.equal(releaseCheck.ok, true);

    // The lab's log of hb-1: held, never leased while held, released, and only then leased (to the waiting job).
    const story = (await allEvents(a.url))
      .filter((e) => e.slot === 'hb-1' && ['slot.held', 'slot.released', 'slot.leased'].includes(e.type))
      .map((e) => [e.host, e.type, e.job_id]);
    assert.deepEqual(story, [
      ['lab-b', 'slot.held', null],
      ['lab-b', 'slot.released', null],
      ['lab-b', 'slot.leased', waiting],
    ]);
  });
});
