// The slot usage state machine on a real SQLite file opened as the agent opens
// it: every move in the table works, anything else is refused by name, and a
// refused move writes nothing (nor does the transaction it was part of).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { eq } from 'drizzle-orm';
import { openDatabase, type Db } from '../src/db/open-database.js';
import { jobs, slots, type SlotUsage } from '../src/db/schema.js';
import { retryWrite } from '../src/jobs/retry-write.js';
import { ensureSlotRows } from '../src/slots/slot-states.js';
import {
  isSlotMove,
  moveSlot,
  SLOT_MOVES,
  SlotTransitionError,
  SlotUsageMismatchError,
} from '../src/slots/slot-usage.js';
import { lifo } from './helpers/cleanup.js';
import { tempDir } from './helpers/temp-dir.js';

const USAGES: readonly SlotUsage[] = ['idle', 'leased', 'running', 'cleaning', 'recovering'];
const EARLIER = 1_700_000_000_000;
const AT = 1_800_000_000_000;

function database(t: TestContext, stateDir = tempDir(t)): Db {
  const db = openDatabase({ stateDir });
  lifo(t).after(() => db.$client.close());
  ensureSlotRows(db, ['s1']);
  return db;
}

/** Puts s1 in `usage` as a test fixture would find it: leased to j1 unless idle or recovering (no job has it). */
function place(db: Db, usage: SlotUsage, jobId = 'j1'): void {
  const lease =
    usage === 'idle' || usage === 'recovering'
      ? { leaseJobId: null, leaseWorkerId: null }
      : { leaseJobId: jobId, leaseWorkerId: usage === 'leased' ? null : 'w1' };
  db.update(slots)
    .set({ usage, usageChangedAt: EARLIER, ...lease })
    .where(eq(slots.name, 's1'))
    .run();
}

function row(db: Db): typeof slots.$inferSelect | undefined {
  return db.select().from(slots).where(eq(slots.name, 's1')).get();
}

/** A move of j1's lease: the move to leased records it, the others must find it. Two calls, as the overloads want `to` known. */
function move(db: Pick<Db, 'update' | 'select'>, from: SlotUsage, to: SlotUsage): void {
  // Recovery's moves are no job's: they carry no lease to guard.
  const options = { jobId: 'j1', at: AT };
  if (to === 'leased') moveSlot(db, 's1', from, to, options);
  else if (from === 'recovering' || to === 'recovering') moveSlot(db, 's1', from, to, { at: AT });
  else moveSlot(db, 's1', from, to, options);
}

describe('slot usage moves', () => {
  it('has the lifecycle of DESIGN §2 and its crash and failure paths in the table, nothing else', () => {
    assert.deepEqual(
      SLOT_MOVES.map((m) => `${m.from} → ${m.to}`),
      [
        'idle → leased',
        'leased → running',
        'leased → cleaning',
        'leased → idle',
        'running → cleaning',
        'running → idle',
        'cleaning → idle',
        'idle → recovering',
        'recovering → idle',
      ],
    );
    // Recovery takes only an idle slot, and gives it back idle: never from or to a lease.
    assert.equal(isSlotMove('leased', 'recovering'), false);
    assert.equal(isSlotMove('recovering', 'leased'), false);
    // A slot is never idle before its cleanup, so nothing moves straight from idle to running or cleaning.
    assert.equal(isSlotMove('idle', 'running'), false);
    assert.equal(isSlotMove('idle', 'cleaning'), false);
    assert.equal(isSlotMove('cleaning', 'running'), false);
  });

  for (const { from, to } of SLOT_MOVES) {
    it(`moves ${from} → ${to}, alone or in a transaction, and keeps the lease as the move says`, (t) => {
      const db = database(t);
      for (const inTransaction of [false, true]) {
        place(db, from);
        const before = row(db);
        if (inTransaction) db.transaction((tx) => move(tx, from, to));
        else move(db, from, to);
        const after = row(db);
        assert.ok(after);
        assert.equal(after.usage, to);
        assert.equal(after.usageChangedAt, AT);
        // Idle ends the lease, leased starts j1's; any other move keeps the lease as it was.
        const lease =
          to === 'idle'
            ? { leaseJobId: null, leaseWorkerId: null }
            : to === 'leased'
              ? { leaseJobId: 'j1', leaseWorkerId: null }
              : { leaseJobId: before?.leaseJobId, leaseWorkerId: before?.leaseWorkerId };
        assert.deepEqual({ leaseJobId: after.leaseJobId, leaseWorkerId: after.leaseWorkerId }, lease);
      }
    });
  }

  it('refuses every pair that is not in the table with SlotTransitionError and writes nothing', (t) => {
    const db = database(t);
    let refused = 0;
    for (const from of USAGES) {
      for (const to of USAGES) {
        if (isSlotMove(from, to)) continue;
        place(db, from);
        const before = row(db);
        assert.throws(
          () => move(db, from, to),
          (error: unknown) =>
            error instanceof SlotTransitionError &&
            error.slot === 's1' &&
            error.from === from &&
            error.to === to &&
            error.message === `slot s1 may not move from ${from} to ${to}`,
        );
        assert.deepEqual(row(db), before, `${from} → ${to} wrote nothing`);
        refused += 1;
      }
    }
    assert.equal(refused, USAGES.length * USAGES.length - SLOT_MOVES.length);
  });

  it('refuses a move of a slot that is not where the move expects it with SlotUsageMismatchError and writes nothing', (t) => {
    const db = database(t);
    for (const { from, to } of SLOT_MOVES) {
      for (const actual of USAGES.filter((u) => u !== from)) {
        place(db, actual);
        const before = row(db);
        assert.throws(
          () => move(db, from, to),
          (error: unknown) =>
            error instanceof SlotUsageMismatchError &&
            error.expected.usage === from &&
            error.found?.usage === actual &&
            error.to === to,
        );
        assert.deepEqual(row(db), before, `${from} → ${to} on a ${actual} slot wrote nothing`);
      }
    }
  });

  it("refuses to move another job's lease, or a slot that has no row", (t) => {
    const db = database(t);
    place(db, 'running', 'j2');
    const before = row(db);
    assert.throws(
      () => moveSlot(db, 's1', 'running', 'cleaning', { jobId: 'j1' }),
      (error: unknown) => {
        assert.ok(error instanceof SlotUsageMismatchError);
        assert.deepEqual(
          [error.expected, error.found],
          [
            { usage: 'running', jobId: 'j1' },
            { usage: 'running', jobId: 'j2' },
          ],
        );
        assert.equal(
          error.message,
          'slot s1 cannot move to cleaning: expected running for job j1, found running for job j2',
        );
        return true;
      },
    );
    assert.deepEqual(row(db), before);
    assert.throws(
      () => moveSlot(db, 'nope', 'idle', 'leased', { jobId: 'j1' }),
      (error: unknown) => error instanceof SlotUsageMismatchError && error.found === undefined,
    );
    assert.equal(db.select().from(slots).where(eq(slots.name, 'nope')).get(), undefined);
  });

  it('refuses a move that another connection got in first, and rolls back the step it was part of', (t) => {
    const stateDir = tempDir(t);
    const agent = database(t, stateDir);
    const other = database(t, stateDir);
    agent.insert(jobs).values({ id: 'j1', target: 'tb', timeoutMs: 60_000, state: 'leased', slot: 's1' }).run();
    place(agent, 'leased');
    // Another writer records the start first (as a second agent on the same state would).
    move(other, 'leased', 'running');
    assert.throws(
      () =>
        agent.transaction((tx) => {
          tx.update(jobs).set({ state: 'queued', slot: null }).where(eq(jobs.id, 'j1')).run();
          move(tx, 'leased', 'idle');
        }),
      SlotUsageMismatchError,
    );
    assert.equal(row(agent)?.usage, 'running');
    assert.equal(
      agent.select().from(jobs).where(eq(jobs.id, 'j1')).get()?.state,
      'leased',
      'the job update of the refused step was rolled back',
    );
  });

  it('is not retried as a write lost to a lock would be: it would be refused again', async (t) => {
    const db = database(t);
    place(db, 'running');
    let attempts = 0;
    await assert.rejects(
      retryWrite(() => {
        attempts += 1;
        move(db, 'leased', 'running');
      }),
      SlotUsageMismatchError,
    );
    assert.equal(attempts, 1);
  });
});
