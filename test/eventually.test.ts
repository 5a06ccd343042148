// The one wait helper every test uses: it must hand back the value, retry
// both a `false` and a failing assertion, and end every wait at its deadline,
// including one whose check never settles.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, GiveUp } from './helpers/eventually.js';

describe('eventually', () => {
  it('retries until the check passes and hands back its value', async () => {
    let calls = 0;
    const value = await eventually(() => (++calls >= 3 ? `after ${calls}` : false), { intervalMs: 1 });
    assert.equal(value, 'after 3');
  });

  it('retries a failing assertion and, at the deadline, throws that assertion with what was awaited in front', async () => {
    let calls = 0;
    await assert.rejects(
      eventually(
        () => {
          calls += 1;
          assert.equal(calls, -1);
        },
        { timeoutMs: 50, intervalMs: 5, message: 'calls to go negative' },
      ),
      (error: unknown) =>
        error instanceof assert.AssertionError &&
        /^timed out after 50 ms waiting for calls to go negative: /.test(error.message) &&
        error.expected === -1,
    );
    assert.ok(calls > 1, `only ${calls} attempt`);
  });

  it('passes with an assertion that holds (undefined is a pass, only false is not)', async () => {
    await eventually(() => assert.ok(true), { timeoutMs: 50 });
  });

  it('says what it waited for, read at the end, when the check only said false', async () => {
    let seen = 0;
    await assert.rejects(
      eventually(() => ++seen < 0, { timeoutMs: 30, intervalMs: 5, message: () => `a negative count (saw ${seen})` }),
      (error: unknown) =>
        error instanceof Error &&
        new RegExp(`^timed out after 30 ms waiting for a negative count \\(saw ${seen}\\)$`).test(error.message),
    );
  });

  it('ends at the deadline even when a check never settles', async () => {
    await assert.rejects(
      eventually(() => new Promise<boolean>(() => undefined), { timeoutMs: 20, message: 'a hung check' }),
      /timed out after 20 ms waiting for a hung check: the last attempt did not finish before the deadline/,
    );
  });

  it('stops at once on GiveUp: what it waits for can no longer happen', async () => {
    let calls = 0;
    await assert.rejects(
      eventually(
        () => {
          calls += 1;
          throw new GiveUp('the process ended');
        },
        { timeoutMs: 5_000 },
      ),
      GiveUp,
    );
    assert.equal(calls, 1);
  });
});
