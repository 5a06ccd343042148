// POST /v1/worker/power and POST /v1/slots/:name/power through the real app
// without a socket: what each refuses (another slot's outlet, an unknown
// device, a bad action, a slot without outlets, a driver that fails) and the
// audit event of a switch. The outlets here are `command` power devices
// running `true` and `false`, so a switch really runs the driver.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { EventView } from '../src/api/event.js';
import type { Db } from '../src/db/open-database.js';
import type { LabModel } from '../src/config/lab-model.js';
import { submitJob } from '../src/jobs/job-queue.js';
import { jobRequestSchema } from '../src/jobs/job-request.js';
import { claimSlot, markRunning, recordWorker } from '../src/jobs/lease-records.js';
import { PowerSwitchError, switchSlotPower } from '../src/slots/slot-power.js';
import { sha256Hex } from '../src/tokens.js';
import { OPERATOR_TOKEN, request, SUBMITTER_TOKEN, testApp, type TestApp } from './helpers/test-app.js';

const WORKER_TOKEN = 'worker-token-of-a1';

/** A `command` outlet whose programs run `on` (and `true` for off and status). */
function outlet(name: string, on: readonly string[] = ['true']): string {
  return `[devices.${name}]\nkind = "power"\ndriver = "command"\non = ${JSON.stringify(on)}\noff = ["true"]\nstatus = ["true"]\n`;
}

/** a1 has two outlets, b1 one, c1 one whose driver fails, d1 none; spare-power is in no slot. */
const TOML = `
[auth]
operators = ["${sha256Hex('demo-operator-token')}"]
submitters = ["${sha256Hex('demo-submitter-token')}"]
[devices.a1-check]
kind = "command"
argv = ["true"]
${outlet('a1-power')}${outlet('a1-aux-power')}${outlet('b1-power')}${outlet('spare-power')}${outlet('broken-power', ['sh', '-c', 'echo relay stuck >&2; exit 3'])}
[slots.a1]
target = "tb"
devices = ["a1-check", "a1-power", "a1-aux-power"]
[slots.b1]
target = "tb"
devices = ["b1-power"]
[slots.c1]
target = "other"
devices = ["a1-check", "broken-power"]
[slots.d1]
target = "none"
devices = ["a1-check"]
${outlet('slow-power', ['sleep', '60'])}
[slots.e1]
target = "slow"
devices = ["slow-power"]
`;

/** A job running in a1 as worker w-a1, whose token is WORKER_TOKEN. */
function runningWorker(db: Db, lab: LabModel): string {
  const job = submitJob(db, lab, jobRequestSchema.parse({ target: 'tb', argv: ['true'] }), 'test');
  const slot = lab.slots.get('a1');
  assert.ok(slot !== undefined && claimSlot(db, job.id, slot));
  recordWorker(db, {
    id: 'w-a1',
    jobId: job.id,
    slot: 'a1',
    username: 'ls-w-a1',
    tokenHash: sha256Hex(WORKER_TOKEN),
    rootDir: '/nonexistent',
  });
  markRunning(db, job.id, 'w-a1', 'a1');
  return job.id;
}

async function powerEvents(app: TestApp['app']): Promise<EventView[]> {
  const { json } = await request(app, 'GET', '/v1/events?limit=100', { token: OPERATOR_TOKEN });
  return (json as { events: EventView[] }).events.filter((e) => e.type.startsWith('slot.power'));
}

function setUp(t: TestContext): TestApp & { jobId: string } {
  const app = testApp(t, TOML);
  return { ...app, jobId: runningWorker(app.db, app.lab) };
}

const post = (app: TestApp['app'], path: string, body: unknown, token: string) =>
  request(app, 'POST', path, { token, body: JSON.stringify(body) });

describe('POST /v1/worker/power', () => {
  it("switches every outlet of the job's own slot, with an event naming job and worker per outlet", async (t) => {
    const { app, jobId } = setUp(t);
    const answer = await post(app, '/v1/worker/power', { action: 'cycle' }, WORKER_TOKEN);
    assert.deepEqual(answer, {
      status: 200,
      json: { slot: 'a1', action: 'cycle', devices: ['a1-power', 'a1-aux-power'], job_id: jobId, worker_id: 'w-a1' },
    });
    const events = await powerEvents(app);
    assert.deepEqual(events.map((e) => [e.type, e.device, e.job_id, e.worker_id, e.actor]).sort(), [
      ['slot.power', 'a1-aux-power', jobId, 'w-a1', 'worker:w-a1'],
      ['slot.power', 'a1-power', jobId, 'w-a1', 'worker:w-a1'],
    ]);
    assert.match(
      events[0]?.message ?? '',
      new RegExp(`^power cycle of a1-\\S+ in a1 by job ${jobId} \\(worker w-a1\\)$`),
    );
  });

  it("refuses another slot's outlet with 403 naming both slots, and switches nothing", async (t) => {
    const { app } = setUp(t);
    assert.deepEqual(await post(app, '/v1/worker/power', { action: 'off', device: 'b1-power' }, WORKER_TOKEN), {
      status: 403,
      json: {
        error: {
          code: 'power_device_forbidden',
          message: "power device b1-power belongs to slot b1, not to this job's slot a1",
        },
      },
    });
    const spare = await post(app, '/v1/worker/power', { action: 'off', device: 'spare-power' }, WORKER_TOKEN);
    assert.equal(spare.status, 403);
    assert.match(JSON.stringify(spare.json), /power device spare-power belongs to no slot, not to this job's slot a1/);
    assert.deepEqual(await powerEvents(app), []);
  });

  it("answers an unknown device, or one that is no outlet, with 404 listing the slot's outlets", async (t) => {
    const { app } = setUp(t);
    for (const [device, what] of [
      ['nope', 'no device named "nope"'],
      ['a1-check', 'device "a1-check" is not a power device'],
    ]) {
      assert.deepEqual(await post(app, '/v1/worker/power', { action: 'on', device }, WORKER_TOKEN), {
        status: 404,
        json: {
          error: {
            code: 'power_device_not_found',
            message: `${what}; the power devices of this job's slot a1: a1-power, a1-aux-power`,
          },
        },
      });
    }
  });

  it('answers a bad action with 400, a borrowed token with 403, and operator or no tokens with 401/403', async (t) => {
    const { app } = setUp(t);
    assert.deepEqual(await post(app, '/v1/worker/power', { action: 'reboot' }, WORKER_TOKEN), {
      status: 400,
      json: { error: { code: 'invalid_request', message: 'action: must be "on", "off" or "cycle"' } },
    });
    const borrowed = await post(app, '/v1/worker/power', { action: 'on', slot: 'b1' }, WORKER_TOKEN);
    assert.equal(borrowed.status, 403);
    assert.match(JSON.stringify(borrowed.json), /belongs to worker w-a1 in slot a1, not to \? in b1/);
    assert.equal((await post(app, '/v1/worker/power', { action: 'on' }, OPERATOR_TOKEN)).status, 403);
    assert.equal((await post(app, '/v1/worker/power', { action: 'on' }, 'not-a-token')).status, 401);
    assert.deepEqual(await powerEvents(app), []);
  });
});

describe('POST /v1/slots/:name/power', () => {
  it("switches one outlet for an operator, audited with the operator's name", async (t) => {
    const { app } = setUp(t);
    const answer = await post(app, '/v1/slots/b1/power', { action: 'off', by: 'alice@lab-1' }, OPERATOR_TOKEN);
    assert.deepEqual(answer, { status: 200, json: { slot: 'b1', action: 'off', devices: ['b1-power'] } });
    const events = await powerEvents(app);
    assert.equal(events.length, 1, JSON.stringify(events));
    const [event] = events;
    assert.ok(event !== undefined);
    assert.match(event.actor ?? '', /^operator:[0-9a-f]{8}$/);
    assert.equal(event.message, `power off of b1-power in b1 by alice@lab-1 (${event.actor})`);
    assert.deepEqual(event.data, { action: 'off', by: `alice@lab-1 (${event.actor})` });
  });

  it('refuses a device of another slot (403), an unknown device (404), a slot (404), an action (400), a submitter (403)', async (t) => {
    const { app } = setUp(t);
    const foreign = await post(app, '/v1/slots/b1/power', { action: 'off', device: 'a1-power' }, OPERATOR_TOKEN);
    assert.deepEqual(foreign, {
      status: 403,
      json: {
        error: { code: 'power_device_forbidden', message: 'power device a1-power belongs to slot a1, not to slot b1' },
      },
    });
    const unknown = await post(app, '/v1/slots/b1/power', { action: 'off', device: 'nope' }, OPERATOR_TOKEN);
    assert.equal(unknown.status, 404);
    assert.match(JSON.stringify(unknown.json), /power_device_not_found.*the power devices of slot b1: b1-power/);
    const slot = await post(app, '/v1/slots/nope/power', { action: 'off' }, OPERATOR_TOKEN);
    assert.equal(slot.status, 404);
    assert.match(JSON.stringify(slot.json), /slot_not_found/);
    assert.equal((await post(app, '/v1/slots/b1/power', { action: 'toggle' }, OPERATOR_TOKEN)).status, 400);
    assert.equal((await post(app, '/v1/slots/b1/power', { action: 'on', extra: 1 }, OPERATOR_TOKEN)).status, 400);
    assert.equal((await post(app, '/v1/slots/b1/power', { action: 'on' }, SUBMITTER_TOKEN)).status, 403);
    assert.deepEqual(await powerEvents(app), []);
  });

  it('answers a slot without outlets with 409 no_power_device', async (t) => {
    const { app } = setUp(t);
    assert.deepEqual(await post(app, '/v1/slots/d1/power', { action: 'cycle' }, OPERATOR_TOKEN), {
      status: 409,
      json: { error: { code: 'no_power_device', message: 'slot d1 has no power device to switch' } },
    });
  });

  it("answers a driver's failure with 502 power_failed naming the outlet and why, and records it", async (t) => {
    const { app } = setUp(t);
    const answer = await post(app, '/v1/slots/c1/power', { action: 'on' }, OPERATOR_TOKEN);
    assert.equal(answer.status, 502, JSON.stringify(answer.json));
    const error = (answer.json as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'power_failed');
    assert.match(
      error.message,
      /^power on in c1 failed: broken-power: power on command sh -c .* failed: exit 3 relay stuck/,
    );
    assert.deepEqual(
      (await powerEvents(app)).map((e) => [e.type, e.device]),
      [['slot.power-failed', 'broken-power']],
    );
  });

  it('gives up on an outlet that does not answer in time, naming it, rather than holding the request', async (t) => {
    const { lab, db, log, logs } = testApp(t, TOML);
    await assert.rejects(
      switchSlotPower(
        { lab, db, log },
        { slot: 'e1', action: 'on', device: undefined },
        { actor: 'test', by: 'test', slotWords: 'slot e1' },
        300,
      ),
      (error: unknown) =>
        error instanceof PowerSwitchError &&
        error.message === 'power on in e1 failed: slow-power: no answer within 0.3 s',
    );
    assert.deepEqual(
      logs.map((line) => [line['msg'], line['device']]),
      [['power switch failed', 'slow-power']],
    );
  });
});
