// `labslot worker mark-broken` against a scripted stand-in of the worker API:
// the request it sends, what it tells the job, and a refused token.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendError, sendJson, startFakeAgent } from './helpers/fake-job-agent.js';
import { cli } from './helpers/job-cli.js';

describe('worker mark-broken against a stand-in of the worker API', () => {
  const inJob = (url: string): NodeJS.ProcessEnv => ({
    LABSLOT_URL: url,
    LABSLOT_TOKEN: 'worker-token-w0007',
    LABSLOT_WORKER: 'w0007',
    LABSLOT_SLOT: 'gimlet-1',
    LABSLOT_JOB: 'j0001',
  });

  it("holds the job's slot with the message and says what that means", async (t) => {
    const agent = await startFakeAgent(t, (r, res) => {
      const body = r.body as { message: string };
      sendJson(res, 200, {
        slot: 'gimlet-1',
        job_id: 'j0001',
        worker_id: 'w0007',
        hold: {
          reason: body.message,
          source: 'job',
          by: 'job j0001',
          at: '2026-11-25T02:40:00.000Z',
          job_id: 'j0001',
          worker_id: 'w0007',
        },
      });
    });
    const result = await cli(['worker', 'mark-broken', '-m', 'SP probe does not attach'], inJob(agent.url));
    assert.deepEqual([result.code, result.stdout], [0, ''], result.stderr);
    assert.equal(
      result.stderr,
      'labslot: slot gimlet-1 is held: SP probe does not attach; this job ends as an infrastructure failure\n',
    );
    const [request] = agent.requests;
    assert.ok(request);
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/v1/worker/mark-broken');
    assert.equal(request.authorization, 'Bearer worker-token-w0007');
    assert.deepEqual(request.body, { message: 'SP probe does not attach', slot: 'gimlet-1', worker: 'w0007' });
  });

  it('on a slot that was already held, says that hold stays', async (t) => {
    const agent = await startFakeAgent(t, (_r, res) => {
      const hold = {
        reason: 'reflashing RoT',
        source: 'operator',
        by: 'alice (operator:61112491)',
        at: '2026-11-25T02:40:00.123Z',
        job_id: null,
        worker_id: null,
      };
      sendJson(res, 200, { slot: 'gimlet-1', job_id: 'j0001', worker_id: 'w0007', hold, already_held: true });
    });
    const result = await cli(['worker', 'mark-broken', '-m', 'SP probe does not attach'], inJob(agent.url));
    assert.deepEqual(
      [result.code, result.stdout, result.stderr],
      [
        0,
        '',
        'labslot: slot gimlet-1 stays held by operator alice (operator:61112491) since 2026-11-25T02:40:00Z: reflashing RoT (your message is in its events); this job ends as an infrastructure failure\n',
      ],
    );
  });

  it("reports a refused token with exit 1 and the agent's message", async (t) => {
    let status = 401;
    const agent = await startFakeAgent(t, (_r, res) =>
      sendError(
        res,
        status,
        status === 401 ? 'token_expired' : 'forbidden',
        status === 401
          ? 'the token of worker w0007 expired when its job ended'
          : 'this needs a worker token; operator and submitter tokens cannot act for a job',
      ),
    );
    const expired = await cli(['worker', 'mark-broken', '-m', 'x'], inJob(agent.url));
    assert.deepEqual(
      [expired.code, expired.stderr],
      [1, 'labslot: the token of worker w0007 expired when its job ended\n'],
    );
    status = 403;
    const forbidden = await cli(['worker', 'mark-broken', '-m', 'x'], inJob(agent.url));
    assert.deepEqual(
      [forbidden.code, forbidden.stderr],
      [1, 'labslot: this needs a worker token; operator and submitter tokens cannot act for a job\n'],
    );
  });
});
