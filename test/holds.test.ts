// Holds end to end: the CLI and the API of a real agent, persisted across a
// restart, audited in /v1/events, and refused without an operator token.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { recentSlotEvents } from '../src/http/event-view.js';
import { holdSlot, SlotHeldError } from '../src/slots/holds.js';
import { readSlotStates } from '../src/slots/slot-states.js';
import { hasStackTrace, PROJECT_ROOT, runCli } from './helpers/cli.js';
import { startAgent } from './helpers/agent-process.js';
import type { EventListView, HoldView, SlotDetailView } from './helpers/api-types.js';
import { freePort } from './helpers/free-port.js';
import { labFixture } from './helpers/lab-fixture.js';
import { tempDir } from './helpers/temp-dir.js';

const EXAMPLE = join(PROJECT_ROOT, 'slots.example.toml');
const OPERATOR = 'demo-operator-token';

async function post(
  url: string,
  body: string,
  token?: string,
): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
  return { status: response.status, json: (await response.json()) as { error?: { code: string; message: string } } };
}

describe('holds', () => {
  it('hold, list, restart, release: the whole loop through the CLI', async (t) => {
    const stateDir = tempDir(t);
    const agent = await startAgent(t, { config: EXAMPLE, stateDir });
    const env = { LABSLOT_URL: agent.url, LABSLOT_TOKEN: OPERATOR };

    const held = await runCli(['slot', 'hold', 'gimlet-1', '-m', 'SP probe drops off the hub'], { env });
    assert.equal(held.code, 0, held.stderr);
    assert.equal(held.stdout, 'gimlet-1 is held: SP probe drops off the hub\n');

    const listed = await runCli(['slots'], { env: { LABSLOT_URL: agent.url } });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /^gimlet-1\s+gimlet\s+idle\s+HELD\s+\S+\s+sidecar-1\s+held by operator \S+@\S+ \(operator:61112491\): SP probe drops off the hub$/m,
    );
    assert.match(listed.stdout, /^gimlet-2\s+gimlet\s+idle\s+-\s/m);

    assert.equal(await agent.stop(), 0);
    const again = await startAgent(t, { config: EXAMPLE, stateDir });
    const slot = (await (await fetch(`${again.url}/v1/slots/gimlet-1`)).json()) as SlotDetailView;
    assert.deepEqual(
      { reason: slot.hold?.reason, source: slot.hold?.source },
      { reason: 'SP probe drops off the hub', source: 'operator' },
    );

    const againEnv = { LABSLOT_URL: again.url, LABSLOT_TOKEN: OPERATOR };
    const released = await runCli(['slot', 'release', 'gimlet-1', '-m', 'reseated the hub'], { env: againEnv });
    assert.equal(released.code, 0, released.stderr);
    // Nothing is attached to this machine, so the fresh check after release cannot pass.
    assert.match(released.stdout, /^gimlet-1 released; fresh check: not healthy yet/);
    const twice = await runCli(['slot', 'release', 'gimlet-1'], { env: againEnv });
    assert.equal(twice.code, 1);
    assert.equal(twice.stderr, 'labslot: slot gimlet-1 is not held\n');

    const { events } = (await (await fetch(`${again.url}/v1/events?slot=gimlet-1`)).json()) as EventListView;
    const audit = events.filter((e) => e.type.startsWith('slot.'));
    assert.deepEqual(
      audit.map((e) => e.type),
      ['slot.held', 'slot.released'],
    );
    assert.match(
      audit[1]?.message ?? '',
      /gimlet-1 released: reseated the hub \(was held by operator .*: SP probe drops off the hub\)/,
    );
    assert.equal(typeof audit[1]?.data?.['held_for_ms'], 'number');
    assert.ok(events.every((e) => e.slot === 'gimlet-1'));
    // The fresh check after release is in the history with its own trigger.
    const after = (await (await fetch(`${again.url}/v1/slots/gimlet-1`)).json()) as SlotDetailView;
    assert.ok(after.devices.every((d) => d.history.some((h) => h.trigger === 'release')));
    await again.stop();
  });

  it('a second hold is a 409 naming the first and changes nothing; "replace" replaces it, audited; the page form does the same', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    // Read while held: its hold is there.
    const slotHold = async (): Promise<HoldView> =>
      ((await (await fetch(`${agent.url}/v1/slots/gimlet-1`)).json()) as SlotDetailView & { hold: HoldView }).hold;

    assert.equal(
      (await post(`${agent.url}/v1/slots/gimlet-1/hold`, '{"reason":"reflashing RoT","by":"alice"}', OPERATOR)).status,
      200,
    );
    const first = await slotHold();
    assert.equal(first.by, 'alice (operator:61112491)');
    const since = first.at.replace(/\.\d{3}Z$/, 'Z');
    const named = `slot gimlet-1 is already held by operator alice (operator:61112491) since ${since}: reflashing RoT`;

    // 409: the message names reason, source, who and since when, and the body carries the hold.
    const second = await post(`${agent.url}/v1/slots/gimlet-1/hold`, '{"reason":"second reason","by":"bob"}', OPERATOR);
    assert.equal(second.status, 409);
    assert.deepEqual(second.json.error, {
      code: 'slot_held',
      message: `${named}; send "replace": true to replace it`,
      hold: { ...first, job_id: null, worker_id: null },
    });
    assert.deepEqual(await slotHold(), first, 'the first hold, its time included, is unchanged');

    // The page form: refused with the same words and a box to tick, which the held slot's form offers.
    const form = (fields: Record<string, string>): Promise<Response> =>
      fetch(`${agent.url}/slots/gimlet-1/hold`, {
        method: 'POST',
        body: new URLSearchParams({ text: 'from the page', token: OPERATOR, ...fields }),
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
    const refused = await form({});
    assert.equal(refused.status, 409);
    const html = await refused.text();
    assert.ok(html.includes(`${named}; tick &quot;Replace the current hold&quot; to replace it`), html);
    assert.match(html, /<input type="checkbox" name="replace"\/?> Replace the current hold/);
    assert.deepEqual(await slotHold(), first);

    // Replaced: the new hold has its own who and time; the answer and the event name the one it replaced.
    const replaced = await post(
      `${agent.url}/v1/slots/gimlet-1/hold`,
      '{"reason":"second reason","by":"bob","replace":true}',
      OPERATOR,
    );
    assert.equal(replaced.status, 200);
    const now = await slotHold();
    assert.deepEqual({ reason: now.reason, by: now.by }, { reason: 'second reason', by: 'bob (operator:61112491)' });
    assert.ok(Date.parse(now.at) >= Date.parse(first.at));
    assert.deepEqual((replaced.json as unknown as { replaced: unknown }).replaced, {
      ...first,
      job_id: null,
      worker_id: null,
    });
    const ticked = await form({ replace: 'on' });
    assert.deepEqual([ticked.status, ticked.headers.get('location')], [303, '/slots/gimlet-1?done=replaced']);
    assert.equal((await slotHold()).reason, 'from the page');

    const { events } = (await (await fetch(`${agent.url}/v1/events?slot=gimlet-1`)).json()) as EventListView;
    const audit = events.filter((e) => e.type.startsWith('slot.'));
    assert.deepEqual(
      audit.map((e) => e.type),
      ['slot.held', 'slot.hold-replaced', 'slot.hold-replaced'],
    );
    assert.equal(
      audit[1]?.message,
      `gimlet-1 hold replaced by operator bob (operator:61112491): second reason (was held by operator alice (operator:61112491) since ${since}: reflashing RoT)`,
    );
    assert.deepEqual(audit[1].data, {
      source: 'operator',
      reason: 'second reason',
      replaced: { reason: 'reflashing RoT', source: 'operator', by: first.by, at: first.at, job_id: null },
    });
    await agent.stop();
  });

  it('the CLI: a hold on a held slot is one line naming the hold and exit 1; --replace replaces it', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    const env = { LABSLOT_URL: agent.url, LABSLOT_TOKEN: OPERATOR };
    // Read while held: its hold is there.
    const slotHold = async (): Promise<HoldView> =>
      ((await (await fetch(`${agent.url}/v1/slots/gimlet-1`)).json()) as SlotDetailView & { hold: HoldView }).hold;

    assert.equal((await runCli(['slot', 'hold', 'gimlet-1', '-m', 'reflashing RoT'], { env })).code, 0);
    const first = await slotHold();
    const refused = await runCli(['slot', 'hold', 'gimlet-1', '-m', 'second reason'], { env });
    const since = first.at.replace(/\.\d{3}Z$/, 'Z');
    assert.deepEqual(
      [refused.code, refused.stdout, refused.stderr],
      [
        1,
        '',
        `labslot: slot gimlet-1 is already held by operator ${first.by} since ${since}: reflashing RoT; pass --replace to replace it\n`,
      ],
    );
    assert.deepEqual(await slotHold(), first);

    const replaced = await runCli(['slot', 'hold', 'gimlet-1', '-m', 'second reason', '--replace'], { env });
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal(
      replaced.stdout,
      `gimlet-1 is held: second reason (replaces the hold by operator ${first.by}: reflashing RoT)\n`,
    );
    assert.equal((await slotHold()).reason, 'second reason');
    const { events } = (await (await fetch(`${agent.url}/v1/events?slot=gimlet-1`)).json()) as EventListView;
    assert.deepEqual(
      events.filter((e) => e.type.startsWith('slot.')).map((e) => e.type),
      ['slot.held', 'slot.hold-replaced'],
    );
    await agent.stop();
  });

  it('refuses holds without an operator token and explains bad requests', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    // In the words of a command line, not HTTP's ("send Authorization: Bearer TOKEN"); --token "" is no token either.
    const anonymous = await runCli(['slot', 'hold', 'gimlet-2', '-m', 'x'], {
      env: { LABSLOT_URL: agent.url, LABSLOT_TOKEN: '' },
    });
    assert.deepEqual(
      [anonymous.code, anonymous.stderr],
      [1, 'labslot: no token: pass --token or set LABSLOT_TOKEN to an operator token\n'],
    );
    const emptyToken = await runCli(['slot', 'hold', 'gimlet-2', '-m', 'x', '--token', ''], {
      env: { LABSLOT_URL: agent.url, LABSLOT_TOKEN: '' },
    });
    assert.deepEqual(
      [emptyToken.code, emptyToken.stderr],
      [1, 'labslot: no token: pass --token or set LABSLOT_TOKEN to an operator token\n'],
    );
    const submitter = await post(`${agent.url}/v1/slots/gimlet-2/hold`, '{"reason":"x"}', 'demo-submitter-token');
    assert.equal(submitter.status, 403);

    const empty = await post(`${agent.url}/v1/slots/gimlet-2/hold`, '{"reason":"   "}', OPERATOR);
    assert.deepEqual(
      [empty.status, empty.json.error?.code, empty.json.error?.message],
      [400, 'invalid_request', 'reason: say why the slot is held'],
    );
    const garbage = await post(`${agent.url}/v1/slots/gimlet-2/hold`, '{reason:', OPERATOR);
    assert.deepEqual([garbage.status, garbage.json.error?.code], [400, 'invalid_json']);
    const extra = await post(`${agent.url}/v1/slots/gimlet-2/hold`, '{"reason":"x","reasn":"y"}', OPERATOR);
    assert.equal(extra.status, 400);
    const unknown = await post(`${agent.url}/v1/slots/gimlet-9/hold`, '{"reason":"x"}', OPERATOR);
    assert.equal(unknown.status, 404);
    const notHeld = await post(`${agent.url}/v1/slots/gimlet-2/release`, '{}', OPERATOR);
    assert.deepEqual([notHeld.status, notHeld.json.error?.code], [409, 'not_held']);

    const slot = (await (await fetch(`${agent.url}/v1/slots/gimlet-2`)).json()) as SlotDetailView;
    assert.equal(slot.hold, null, 'no refused request may leave a hold behind');
    await agent.stop();
  });

  it('filters events by time and rejects a bad filter', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = (await (await fetch(`${agent.url}/v1/events?since=${future}`)).json()) as EventListView;
    assert.deepEqual(none.events, []);
    const all = (await (await fetch(`${agent.url}/v1/events`)).json()) as EventListView;
    assert.ok(all.events.some((e) => e.type === 'agent.started'));
    const bad = await fetch(`${agent.url}/v1/events?since=yesterday`);
    assert.equal(bad.status, 400);
    assert.match(
      ((await bad.json()) as { error: { message: string } }).error.message,
      /since: "yesterday" is not a time/,
    );
    await agent.stop();
  });

  it('a job or system hold on a held slot keeps the hold there and says so in the events', (t) => {
    const fx = labFixture(
      t,
      tempDir(t),
      '[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.s1]\ntarget = "t"\ndevices = ["c"]\n',
    );
    const first = holdSlot(fx.db, 's1', { reason: 'reflashing RoT', source: 'operator', by: 'alice' }, 1_000);
    assert.deepEqual([first.outcome, first.previous], ['held', null]);
    const operatorHold = readSlotStates(fx.db, ['s1']).get('s1')?.hold;

    assert.throws(
      () => holdSlot(fx.db, 's1', { reason: 'second reason', source: 'operator', by: 'bob' }, 2_000),
      (error: unknown) =>
        error instanceof SlotHeldError &&
        error.hold.reason === 'reflashing RoT' &&
        error.message === 'slot s1 is already held by operator alice since 1970-01-01T00:00:01Z: reflashing RoT',
    );
    const job = holdSlot(
      fx.db,
      's1',
      { reason: 'SP probe does not attach', source: 'job', by: 'job j1', jobId: 'j1', workerId: 'w1' },
      3_000,
    );
    const system = holdSlot(
      fx.db,
      's1',
      { reason: 'cleanup of worker w1 failed: EBUSY', source: 'system', by: 'labslot' },
      4_000,
    );
    assert.deepEqual([job.outcome, system.outcome], ['kept', 'kept']);
    assert.deepEqual(
      readSlotStates(fx.db, ['s1']).get('s1')?.hold,
      operatorHold,
      "the operator's hold, its time included, is unchanged",
    );

    const events = recentSlotEvents(fx.db, 's1', 10);
    assert.deepEqual(
      events.map((e) => e.type),
      ['slot.held', 'slot.hold-kept', 'slot.hold-kept'],
    );
    assert.equal(
      events[1]?.message,
      's1 stays held by operator alice: reflashing RoT (not replaced by the job hold: SP probe does not attach)',
    );
    assert.deepEqual(events[2]?.data, {
      source: 'system',
      reason: 'cleanup of worker w1 failed: EBUSY',
      hold: { reason: 'reflashing RoT', source: 'operator', by: 'alice', at: '1970-01-01T00:00:01.000Z', job_id: null },
    });

    const replaced = holdSlot(
      fx.db,
      's1',
      { reason: 'waiting for a new RoT', source: 'operator', by: 'bob', replace: true },
      5_000,
    );
    assert.deepEqual(
      [replaced.outcome, replaced.hold.at, replaced.previous?.reason],
      ['replaced', 5_000, 'reflashing RoT'],
    );
  });

  it('says clearly when no agent is listening', async () => {
    const port = await freePort();
    const result = await runCli(['slots'], { env: { LABSLOT_URL: `http://127.0.0.1:${port}` } });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `labslot: cannot reach the agent at http://127.0.0.1:${port}/: connection refused (is the agent running?)\n`,
    );
    assert.equal(hasStackTrace(result.stderr), false);
  });
});
