// WorkerSpares on its own: at most one spare per slot, taken once, waited for
// while it is being made, removed when nobody takes it in time, when a lease
// reserved its disk but did not take it, when it no longer fits the lease that
// takes it, or when the agent stops, never made after stop; a removal that
// fails is tried again. Making and removing are the caller's
// (worker-space.ts, exercised with real users and disks by
// jobs-prepare-ahead.test.ts); here they only record what was asked of them.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { SlotModel } from '../src/config/lab-model.js';
import { WorkerSpares } from '../src/jobs/worker-spares.js';
import type { WorkerSpace } from '../src/jobs/worker-space.js';
import { createLogger } from '../src/log.js';
import { eventually } from './helpers/eventually.js';

const lines: string[] = [];
const log = createLogger(
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  }),
);

function slot(name: string): SlotModel {
  return { name } as SlotModel;
}

/** Spares whose making waits until released, and a record of what was made and removed. */
function harness(idleMs = 60_000, retryMs = [10]) {
  const made: string[] = [];
  const removed: string[] = [];
  /** Every call of the removal, failed or not. */
  const removals: string[] = [];
  let removalsToFail = 0;
  const reserved: string[] = [];
  let noRoom = false;
  const pending: (() => void)[] = [];
  let count = 0;
  let failNext = false;
  const spares = new WorkerSpares(
    async (s) => {
      count += 1;
      const space = { workerId: `w${count}`, slot: s.name, reserved: false } as WorkerSpace;
      const fail = failNext;
      failNext = false;
      await new Promise<void>((resolve) => pending.push(resolve));
      if (fail) throw new Error('useradd failed');
      made.push(space.workerId);
      return space;
    },
    (space) => {
      removals.push(space.workerId);
      if (removalsToFail > 0) {
        removalsToFail -= 1;
        return Promise.reject(new Error('userdel: cannot lock /etc/passwd; try again later.'));
      }
      removed.push(space.workerId);
      return Promise.resolve();
    },
    (space) => {
      if (noRoom) return Promise.reject(new Error('the state directory has no room'));
      reserved.push(space.workerId);
      return Promise.resolve();
    },
    log,
    idleMs,
    retryMs,
  );
  const finishMaking = (): void => {
    for (const resolve of pending.splice(0)) resolve();
  };
  return {
    spares,
    made,
    removed,
    removals,
    reserved,
    finishMaking,
    failNextMake: () => (failNext = true),
    fullDisk: () => (noRoom = true),
    failRemovals: (n: number) => (removalsToFail = n),
  };
}

describe('WorkerSpares', () => {
  it('makes one spare per slot, hands it out once, and waits for one still being made', async () => {
    const h = harness();
    assert.equal(await h.spares.take('s1'), undefined, 'no spare before one was asked for');
    h.spares.prepare(slot('s1'));
    h.spares.prepare(slot('s1'));
    const taking = h.spares.take('s1');
    h.finishMaking();
    assert.equal((await taking)?.workerId, 'w1', 'the take waited for the spare being made');
    assert.deepEqual(h.made, ['w1'], 'a second prepare of the same slot made nothing more');
    assert.equal(await h.spares.take('s1'), undefined, 'a spare is handed out once');
    await h.spares.stop();
    assert.deepEqual(h.removed, [], 'a spare taken is its lease’s to clean up, not the manager’s');
  });

  it('removes a spare nobody took in time after its slot’s lease ended, and every spare at stop; makes none after stop', async () => {
    const h = harness(20);
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    await eventually(() => h.made.length === 1, { message: 'the spare to be made' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(h.removed, [], "the clock starts only when the slot's lease ends: a long job keeps its spare");
    h.spares.slotIdle('s1');
    await eventually(() => h.removed.includes('w1'), { message: 'the idle spare to be removed' });
    assert.equal(await h.spares.take('s1'), undefined, 'an expired spare is not handed out');
    const later = harness();
    later.spares.prepare(slot('s1'));
    later.spares.prepare(slot('s2'));
    const stopped = later.spares.stop();
    later.finishMaking();
    await stopped;
    assert.deepEqual(later.removed.sort(), ['w1', 'w2'], 'stop waited for the spares being made, then removed them');
    later.spares.prepare(slot('s3'));
    assert.equal(await later.spares.take('s3'), undefined, 'nothing is made after stop');
  });

  it('removes a spare that no longer fits its lease (and one whose check fails), and hands out one that does', async () => {
    const h = harness();
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    assert.equal(await h.spares.take('s1', () => Promise.resolve(false)), undefined, 'a spare that does not fit');
    await eventually(() => h.removed.includes('w1'), { message: 'the spare that does not fit to be removed' });
    assert.ok(lines.some((line) => line.includes('no longer fits it') && line.includes('w1')));
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    await assert.rejects(
      h.spares.take('s1', () => Promise.reject(new Error('console.lab did not resolve'))),
      /resolve/,
    );
    await eventually(() => h.removed.includes('w2'), { message: 'the spare whose check failed to be removed' });
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    assert.equal((await h.spares.take('s1', () => Promise.resolve(true)))?.workerId, 'w3');
    await h.spares.stop();
    assert.deepEqual(h.removed, ['w1', 'w2'], 'the one handed out is its lease’s');
  });

  it("reserves a spare's disk only once a lease of its slot begins; one without room is removed", async () => {
    const h = harness();
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    await eventually(() => h.made.length === 1, { message: 'the spare to be made' });
    assert.deepEqual(h.reserved, [], 'a spare waiting for a job holds no disk');
    h.spares.getReady('s1');
    const taken = await h.spares.take('s1');
    assert.deepEqual([taken?.workerId, taken?.reserved, h.reserved], ['w1', true, ['w1']]);
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    h.fullDisk();
    h.spares.getReady('s1');
    assert.equal(await h.spares.take('s1'), undefined, 'a spare without room is not handed out');
    await eventually(() => h.removed.includes('w2'), { message: 'the spare without room to be removed' });
    await h.spares.stop();
  });

  it('removes a spare at once when the lease that reserved its disk ends without it', async () => {
    const h = harness();
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    await eventually(() => h.made.length === 1, { message: 'the spare to be made' });
    // A lease begins (its disk is reserved) and ends without taking it: its pre-lease check failed.
    h.spares.getReady('s1');
    await eventually(() => h.reserved.includes('w1'), { message: "the spare's disk to be reserved" });
    h.spares.slotIdle('s1');
    // The idle clock is a minute here: only the reservation makes it go now.
    await eventually(() => h.removed.includes('w1'), { message: 'the reserved spare to be removed' });
    assert.equal(await h.spares.take('s1'), undefined, 'a removed spare is not handed out');
    await h.spares.stop();
  });

  it('tries a failed removal again until it succeeds, and once more at stop, cutting its pause short', async () => {
    const h = harness(20);
    h.failRemovals(2);
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    await eventually(() => h.made.length === 1, { message: 'the spare to be made' });
    h.spares.slotIdle('s1');
    await eventually(() => h.removed.includes('w1'), { message: 'the spare to be removed in the end' });
    assert.deepEqual(h.removals, ['w1', 'w1', 'w1'], 'two failed attempts, then one that removed it');
    const said = lines.filter((l) => l.includes('could not remove a worker made ahead; trying again'));
    assert.equal(said.length, 1, 'the same error is said once');
    await h.spares.stop();

    // A removal that keeps failing waits far longer than this test may run: stop must cut that pause short.
    const stuck = harness(20, [600_000]);
    stuck.failRemovals(Infinity);
    stuck.spares.prepare(slot('s1'));
    stuck.finishMaking();
    await eventually(() => stuck.made.length === 1, { message: 'the spare to be made' });
    stuck.spares.slotIdle('s1');
    await eventually(() => stuck.removals.length === 1, { message: 'the first attempt to remove it' });
    await stuck.spares.stop();
    assert.deepEqual(stuck.removals, ['w1', 'w1'], 'stop made one more attempt, and waited for it');
    assert.ok(
      lines.some((l) => l.includes('the next start removes what is left')),
      'the last failure is said',
    );
  });

  it('a spare that cannot be made is said in the log, and the slot can have one again', async () => {
    const h = harness();
    h.failNextMake();
    h.spares.prepare(slot('s1'));
    const taking = h.spares.take('s1');
    h.finishMaking();
    assert.equal(await taking, undefined, 'a failed spare hands out nothing: the lease makes its own');
    assert.ok(lines.some((l) => l.includes("could not make the slot's next worker ahead")));
    h.spares.prepare(slot('s1'));
    h.finishMaking();
    assert.equal((await h.spares.take('s1'))?.workerId, 'w2');
    await h.spares.stop();
  });
});
