// What a lab claim and recovery leave in a host's own database, on a real
// SQLite file: a claim's copy is marked until the claim commits, and one a
// crash cut short is dropped at the next start (the lab never gave the job to
// this host), with its slot free; recovery lifts only the provisional hold a
// job's mark-broken left, never one an operator put meanwhile.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { eq } from 'drizzle-orm';
import type { SlotModel } from '../src/config/lab-model.js';
import { openDatabase, type Db } from '../src/db/open-database.js';
import { jobs } from '../src/db/schema.js';
import { adoptLabJob, CLAIM_PENDING, claimCommitted, dropUncommittedClaims } from '../src/jobs/lease-records.js';
import type { JobRow } from '../src/jobs/job-view.js';
import { holdSlot, releaseRecoverFirstHold } from '../src/slots/holds.js';
import { ensureSlotRows, readSlotStates } from '../src/slots/slot-states.js';
import { lifo } from './helpers/cleanup.js';
import { tempDir } from './helpers/temp-dir.js';

function database(t: TestContext): Db {
  const db = openDatabase({ stateDir: tempDir(t) });
  lifo(t).after(() => db.$client.close());
  ensureSlotRows(db, ['s1', 's2']);
  return db;
}

const slot = (name: string): SlotModel => ({ name, target: 'gimlet', conflicts: [] }) as unknown as SlotModel;

function labJob(id: string): JobRow {
  return {
    id,
    target: 'gimlet',
    argv: ['true'],
    script: null,
    env: {},
    timeoutMs: 60_000,
    priority: 0,
    state: 'queued',
    slot: null,
    workerId: null,
    submittedBy: 'submitter:1234',
    submittedAt: Date.now(),
    startedAt: null,
    endedAt: null,
    exitCode: null,
    signal: null,
    endReason: null,
    endedBy: null,
    infrastructure: false,
    input: 'none',
    archives: null,
    outputsBytes: null,
    waiting: null,
    requestedSlot: null,
    allowHeldBy: null,
  };
}

describe("a lab claim's copy of its job", () => {
  it('is marked until the claim commits; at start an uncommitted one is dropped and its slot freed, a committed one kept', (t) => {
    const db = database(t);
    assert.equal(adoptLabJob(db, labJob('j-cut'), slot('s1')), true);
    assert.equal(adoptLabJob(db, labJob('j-done'), slot('s2')), true);
    assert.equal(db.select().from(jobs).where(eq(jobs.id, 'j-cut')).get()?.waiting, CLAIM_PENDING);
    claimCommitted(db, 'j-done');
    assert.equal(db.select().from(jobs).where(eq(jobs.id, 'j-done')).get()?.waiting, null);

    assert.deepEqual(dropUncommittedClaims(db), [{ jobId: 'j-cut', slot: 's1' }]);
    assert.equal(db.select().from(jobs).where(eq(jobs.id, 'j-cut')).get(), undefined);
    const states = readSlotStates(db, ['s1', 's2']);
    assert.equal(states.get('s1')?.usage, 'idle');
    assert.equal(states.get('s1')?.leaseJobId, null);
    // The committed claim is this host's job: crash recovery, not this, deals with it.
    assert.equal(states.get('s2')?.usage, 'leased');
    assert.equal(db.select().from(jobs).where(eq(jobs.id, 'j-done')).get()?.state, 'leased');
  });
});

describe('recovery after a mark-broken', () => {
  it("lifts the job's provisional hold, and nothing else", (t) => {
    const db = database(t);
    holdSlot(db, 's1', { reason: 'probe gone', source: 'job', by: 'job j1', jobId: 'j1', recoverFirst: true });
    assert.equal(releaseRecoverFirstHold(db, 's1', 'recovered by power-cycle'), true);
    assert.equal(readSlotStates(db, ['s1']).get('s1')?.hold, null);

    // An operator replaced the job's hold while recovery ran: only an operator may clear that one.
    holdSlot(db, 's2', { reason: 'probe gone', source: 'job', by: 'job j2', jobId: 'j2', recoverFirst: true });
    holdSlot(db, 's2', { reason: 'reseating the probe', source: 'operator', by: 'alice', replace: true });
    assert.equal(releaseRecoverFirstHold(db, 's2', 'recovered by power-cycle'), false);
    const hold = readSlotStates(db, ['s2']).get('s2')?.hold;
    assert.deepEqual(
      { source: hold?.source, reason: hold?.reason },
      { source: 'operator', reason: 'reseating the probe' },
    );
  });
});
