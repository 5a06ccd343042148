// `labslot worker mark-broken` end to end: a job calls the CLI, its slot is
// held with the message until an operator releases it, the job ends as an
// infrastructure failure, and the next job goes elsewhere or waits. Worker
// tokens work only for their own worker, and only while it runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SlotDetailView, SlotListView } from './helpers/api-types.js';
import { runCli } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('mark-broken', () => {
  it('holds the slot, fails the job as infrastructure, and keeps the slot out until released', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [
      { name: 's1', target: 'tb' },
      { name: 's2', target: 'tb' },
    ]);
    const script = 'labslot worker mark-broken -m "SP probe does not attach"\necho "exit=$?"';
    const id = await lab.submit({ target: 'tb', script });
    const job = await lab.waitDone(id);
    assert.deepEqual(
      { state: job.state, slot: job.slot, reason: job.end_reason, infrastructure: job.infrastructure },
      { state: 'failed', slot: 's1', reason: 'marked broken: SP probe does not attach', infrastructure: true },
    );
    const out = await lab.output(id);
    assert.match(out, /s1 is held: SP probe does not attach/, 'the CLI confirmed');
    assert.match(out, /^exit=0$/m, 'and exited 0; the job output is kept');

    const s1 = (await (await fetch(`${lab.agent.url}/v1/slots/s1`)).json()) as SlotDetailView;
    assert.equal(s1.usage, 'idle');
    assert.deepEqual(
      { ...s1.hold, at: undefined },
      {
        reason: 'SP probe does not attach',
        source: 'job',
        by: `job ${id}`,
        at: undefined,
        job_id: id,
        worker_id: job.worker_id,
      },
    );
    const types = (await lab.events('&slot=s1')).map((e) => e.type);
    assert.ok(types.includes('slot.marked-broken') && types.includes('slot.held'), types.join(','));

    // The next job goes to the healthy slot; with that one held too, it waits and says why.
    const second = await lab.submit({ target: 'tb', argv: ['true'] });
    assert.equal((await lab.waitDone(second)).slot, 's2');
    const env = { LABSLOT_URL: lab.agent.url, LABSLOT_TOKEN: OPERATOR_TOKEN };
    assert.equal((await runCli(['slot', 'hold', 's2', '-m', 'recabling'], { env })).code, 0);
    const third = await lab.submit({ target: 'tb', argv: ['true'] });
    const waiting = await eventually(async () => (await lab.job(third)).waiting ?? false, {
      timeoutMs: 2_500,
      intervalMs: 25,
      message: 'the third job to say why it waits',
    });
    assert.equal(waiting, 'tb: 2 held, 0 free');

    // Release: a fresh check passes and the waiting job runs in the repaired slot.
    const released = await runCli(['slot', 'release', 's1', '-m', 'reseated the probe'], { env });
    assert.equal(released.code, 0, released.stderr);
    assert.match(released.stdout, /fresh check: healthy/);
    const done = await lab.waitDone(third);
    assert.deepEqual({ state: done.state, slot: done.slot }, { state: 'succeeded', slot: 's1' });
  });

  it("on a slot an operator holds, keeps the operator's hold and still ends the job as infrastructure", async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    // The job waits until the operator's hold is there, then reports its own problem.
    const script = [
      'echo started',
      'for i in $(seq 200); do labslot slots | grep -q "reflashing RoT" && break; sleep 0.1; done',
      'labslot worker mark-broken -m "SP probe does not attach"',
      'echo "exit=$?"',
    ].join('\n');
    const id = await lab.submit({ target: 'tb', script });
    await lab.waitOutput(id, /started/);
    assert.equal(
      (await lab.post('/v1/slots/s1/hold', { reason: 'reflashing RoT', by: 'alice' }, OPERATOR_TOKEN)).status,
      200,
    );
    const operatorHold = (await lab.slot('s1')).hold;
    const job = await lab.waitDone(id);
    assert.deepEqual(
      { state: job.state, reason: job.end_reason, infrastructure: job.infrastructure },
      { state: 'failed', reason: 'marked broken: SP probe does not attach', infrastructure: true },
    );
    const out = await lab.output(id);
    assert.match(
      out,
      /^labslot: slot s1 stays held by operator alice \(operator:[0-9a-f]{8}\) since \S+Z: reflashing RoT \(your message is in its events\); this job ends as an infrastructure failure$/m,
    );
    assert.match(out, /^exit=0$/m);

    const after = await lab.slot('s1');
    assert.deepEqual(after.hold, operatorHold, "the operator's hold, its time included, is unchanged");
    const kept = after.events.find((e) => e.type === 'slot.hold-kept');
    assert.match(
      kept?.message ?? '',
      /^s1 stays held by operator alice \(operator:[0-9a-f]{8}\): reflashing RoT \(not replaced by the job hold: SP probe does not attach\)$/,
    );
    assert.ok(after.events.some((e) => e.type === 'slot.marked-broken'));
  });

  it('refuses forged, foreign, expired and non-worker tokens', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [
      { name: 's1', target: 'tb' },
      { name: 's2', target: 'tb' },
    ]);
    // The token is the job's own secret; these test jobs print it so the test can misuse it.
    const script = 'echo "token=$LABSLOT_TOKEN worker=$LABSLOT_WORKER"\nsleep 1000';
    const a = await lab.submit({ target: 'tb', script });
    const b = await lab.submit({ target: 'tb', script });
    const [, tokenA = '', workerA = ''] = await lab.waitOutput(a, /token=(\S+) worker=(\S+)/);
    const [, , workerB = ''] = await lab.waitOutput(b, /token=(\S+) worker=(\S+)/);
    const markBroken = (token: string, body: Record<string, unknown>): ReturnType<JobLab['post']> =>
      lab.post('/v1/worker/mark-broken', { message: 'x', ...body }, token);

    const forged = await markBroken('lsw_forged-token-that-no-worker-has', {});
    assert.equal(forged.status, 401);
    assert.equal((await markBroken(OPERATOR_TOKEN, {})).status, 403);
    assert.equal((await markBroken(SUBMITTER_TOKEN, {})).status, 403);
    const foreign = await markBroken(tokenA, { slot: 's2', worker: workerB });
    assert.equal(foreign.status, 403, 'worker A cannot speak for worker B');
    assert.match(JSON.stringify(foreign.json), new RegExp(`belongs to worker ${workerA} in slot s1`));
    const missingMessage = await markBroken(tokenA, { message: '' });
    assert.equal(missingMessage.status, 400);

    assert.equal((await lab.post(`/v1/jobs/${a}/cancel`, {})).status, 200);
    await lab.waitDone(a);
    const expired = await markBroken(tokenA, { slot: 's1', worker: workerA });
    assert.equal(expired.status, 401);
    assert.deepEqual((expired.json['error'] as { code: string }).code, 'token_expired');
    const slots = (await (await fetch(`${lab.agent.url}/v1/slots`)).json()) as SlotListView;
    assert.deepEqual(
      slots.slots.map((s) => s.hold),
      [null, null],
      'no refused call held anything',
    );
    await lab.post(`/v1/jobs/${b}/cancel`, {});
    await lab.waitDone(b);
  });
});
