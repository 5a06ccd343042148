// POST /v1/jobs with "slot" through createApp + app.request(): the slot's
// target is implied, a slot of another target is a 400 naming both, an unknown
// slot a 404, a held slot a 409 carrying the hold unless an operator sends
// "allow_held" (a submitter token that tries is a 403). The scheduler is not
// started, so every accepted job stays queued and can be read back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobView } from './helpers/api-types.js';
import { OPERATOR_TOKEN, request, SUBMITTER_TOKEN, testApp, type TestApp } from './helpers/test-app.js';

type ErrorBody = { error: { code: string; message: string; hold?: { reason: string; by: string } } };

function submit(app: TestApp['app'], body: Record<string, unknown>, token = SUBMITTER_TOKEN) {
  return request(app, 'POST', '/v1/jobs', { token, body: JSON.stringify({ argv: ['true'], ...body }) });
}

async function hold(app: TestApp['app'], slot: string, reason: string): Promise<void> {
  const answer = await request(app, 'POST', `/v1/slots/${slot}/hold`, {
    token: OPERATOR_TOKEN,
    body: JSON.stringify({ reason, by: 'alice@lab-1' }),
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
}

describe('POST /v1/jobs with a slot', () => {
  it('queues a job for the slot, with its target implied, and shows the slot asked for', async (t) => {
    const { app } = testApp(t);
    const answer = await submit(app, { slot: 'gimlet-2' });
    assert.equal(answer.status, 201, JSON.stringify(answer.json));
    const { job } = answer.json as { job: JobView };
    assert.deepEqual([job.target, job.requested_slot, job.allow_held_by, job.slot], ['gimlet', 'gimlet-2', null, null]);
    const same = await submit(app, { target: 'gimlet', slot: 'gimlet-2' });
    assert.equal(same.status, 201, JSON.stringify(same.json));
  });

  it('refuses a slot of another target with 400, naming both', async (t) => {
    const { app } = testApp(t);
    const answer = await submit(app, { target: 'gimlet', slot: 'sidecar-1' });
    assert.equal(answer.status, 400, JSON.stringify(answer.json));
    assert.deepEqual((answer.json as ErrorBody).error, {
      code: 'invalid_request',
      message:
        'slot: slot "sidecar-1" serves target "sidecar", not target "gimlet" (leave out the target, or name a slot of it)',
    });
  });

  it('refuses neither target nor slot, and allow_held without a slot, with 400', async (t) => {
    const { app } = testApp(t);
    const neither = await submit(app, {});
    assert.equal(neither.status, 400, JSON.stringify(neither.json));
    assert.match((neither.json as ErrorBody).error.message, /give "target" \(any slot of it\) or "slot"/);
    const noSlot = await submit(app, { target: 'gimlet', allow_held: true }, OPERATOR_TOKEN);
    assert.equal(noSlot.status, 400, JSON.stringify(noSlot.json));
    assert.match((noSlot.json as ErrorBody).error.message, /allow_held.*needs "slot"/);
  });

  it('refuses an unknown slot with 404 slot_not_found, listing the slots', async (t) => {
    const { app } = testApp(t);
    const answer = await submit(app, { slot: 'gimlet-9' });
    assert.equal(answer.status, 404, JSON.stringify(answer.json));
    assert.deepEqual((answer.json as ErrorBody).error, {
      code: 'slot_not_found',
      message: 'no slot named "gimlet-9" (slots: gimlet-1, gimlet-2, sidecar-1)',
    });
  });

  it('refuses a held slot with 409 slot_held and the hold, instead of queueing a job that would wait for ever', async (t) => {
    const { app } = testApp(t);
    await hold(app, 'gimlet-1', 'reflashing RoT');
    const answer = await submit(app, { slot: 'gimlet-1' });
    assert.equal(answer.status, 409, JSON.stringify(answer.json));
    const { error } = answer.json as ErrorBody;
    assert.equal(error.code, 'slot_held');
    assert.match(
      error.message,
      /^slot gimlet-1 is held by operator alice@lab-1 \(operator:[0-9a-f]{8}\) since .*: reflashing RoT; /,
    );
    assert.match(error.message, /--allow-held/);
    assert.deepEqual([error.hold?.reason, error.hold?.by], ['reflashing RoT', 'alice@lab-1 (operator:61112491)']);
    // The target's other slots are not held: a job for the target is still queued.
    assert.equal((await submit(app, { target: 'gimlet' })).status, 201);
  });

  it('takes allow_held from an operator token only: 403 for a submitter, recorded for an operator', async (t) => {
    const { app } = testApp(t);
    await hold(app, 'gimlet-1', 'debugging the SP console');
    const bySubmitter = await submit(app, { slot: 'gimlet-1', allow_held: true });
    assert.equal(bySubmitter.status, 403, JSON.stringify(bySubmitter.json));
    assert.deepEqual((bySubmitter.json as ErrorBody).error, {
      code: 'forbidden',
      message: '"allow_held" needs an operator token: only an operator may run a job on a held slot',
    });
    const byOperator = await submit(app, { slot: 'gimlet-1', allow_held: true }, OPERATOR_TOKEN);
    assert.equal(byOperator.status, 201, JSON.stringify(byOperator.json));
    const { job } = byOperator.json as { job: JobView };
    assert.match(job.allow_held_by ?? '', /^operator:[0-9a-f]{8}$/);
    assert.equal(job.submitted_by, job.allow_held_by);
    // An operator token still submits nothing else: jobs are the submitters' business.
    const plain = await submit(app, { slot: 'gimlet-2' }, OPERATOR_TOKEN);
    assert.equal(plain.status, 403, JSON.stringify(plain.json));
    assert.equal((plain.json as ErrorBody).error.message, 'this needs a submitter token');
  });
});
