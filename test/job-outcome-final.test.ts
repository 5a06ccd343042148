// A job's recorded outcome never changes after the fact (issue 12 item 4): a
// job that exited 0 and whose cleanup then failed (a full disk) is later ended
// by the reconciler, which must only make its outcome final, never record it
// as "the agent lost track of the job".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { openDatabase } from '../src/db/open-database.js';
import { jobs, slots } from '../src/db/schema.js';
import { decideOutcome, infrastructureFailure } from '../src/jobs/job-outcome.js';
import { finishJob, markCleaning } from '../src/jobs/lease-records.js';
import { ensureSlotRows } from '../src/slots/slot-states.js';
import { tempDir } from './helpers/temp-dir.js';

function jobRow(db: ReturnType<typeof openDatabase>, id: string): Record<string, unknown> {
  const row = db.select().from(jobs).where(eq(jobs.id, id)).get();
  assert.ok(row);
  return {
    state: row.state,
    exitCode: row.exitCode,
    endReason: row.endReason,
    endedBy: row.endedBy,
    infrastructure: row.infrastructure,
  };
}

describe('final job outcomes', () => {
  for (const [what, exit, cause, expected] of [
    [
      'exit 0',
      { code: 0, signal: null },
      undefined,
      { state: 'succeeded', exitCode: 0, endReason: 'exit code 0', endedBy: 'exit', infrastructure: false },
    ],
    [
      'exit 3',
      { code: 3, signal: null },
      undefined,
      { state: 'failed', exitCode: 3, endReason: 'exit code 3', endedBy: 'exit', infrastructure: false },
    ],
    [
      'a cancel',
      { code: null, signal: 'SIGTERM' },
      { kind: 'cancel', by: 'alice' },
      { state: 'cancelled', exitCode: null, endReason: 'cancelled by alice', endedBy: 'cancel', infrastructure: false },
    ],
  ] as const) {
    it(`keeps ${what} recorded when the job's process ended, whatever ends it later`, (t) => {
      const db = openDatabase({ stateDir: tempDir(t) });
      t.after(() => db.$client.close());
      ensureSlotRows(db, ['s1']);
      db.insert(jobs).values({ id: 'j1', target: 'tb', timeoutMs: 60_000, state: 'running', slot: 's1' }).run();
      db.update(slots).set({ usage: 'running', leaseJobId: 'j1' }).where(eq(slots.name, 's1')).run();
      markCleaning(db, { jobId: 'j1', workerId: 'w1', slot: 's1' }, 'running', decideOutcome(exit, cause));
      // The reconciler, once the failed cleanup is finally done.
      const ended = finishJob(db, 'j1', infrastructureFailure('the agent lost track of the job'));
      assert.deepEqual(ended, { state: expected.state, endedBy: expected.endedBy });
      assert.deepEqual(jobRow(db, 'j1'), expected);
      // Final now: nothing changes it again.
      assert.equal(finishJob(db, 'j1', infrastructureFailure('agent restarted')), undefined);
      assert.deepEqual(jobRow(db, 'j1'), expected);
    });
  }

  it('ends a job that never got an outcome with the one given', (t) => {
    const db = openDatabase({ stateDir: tempDir(t) });
    t.after(() => db.$client.close());
    db.insert(jobs).values({ id: 'j2', target: 'tb', timeoutMs: 60_000, state: 'running' }).run();
    const outcome = infrastructureFailure('agent restarted');
    assert.equal(finishJob(db, 'j2', outcome), outcome);
    assert.deepEqual(jobRow(db, 'j2'), {
      state: 'failed',
      exitCode: null,
      endReason: 'agent restarted',
      endedBy: 'infrastructure',
      infrastructure: true,
    });
  });
});
