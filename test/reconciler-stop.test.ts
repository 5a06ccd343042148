// The agent stops its reconciler before it closes the database: a round in
// flight (here held at its first kill of a leftover worker) finishes its writes
// first. The real agent, database, reconciler and Linux platform; the only
// addition is a gate in front of the platform's killWorker for that worker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { Agent } from '../src/agent.js';
import { jobs, slots, workers } from '../src/db/schema.js';
import { createLogger } from '../src/log.js';
import { currentPlatform } from '../src/platform/current-platform.js';
import type { Platform } from '../src/platform/platform.js';
import { lifo } from './helpers/cleanup.js';
import { labFixture } from './helpers/lab-fixture.js';
import { requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';
import { eventually } from './helpers/eventually.js';

const WORKER = 'w0gated';

describe('reconciler stop', () => {
  it('the agent waits for a reconcile round in flight before it closes the database', async (t) => {
    if (!requires(t, ROOT)) return;
    const fx = labFixture(
      t,
      tempDir(t),
      '[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.a]\ntarget = "t"\ndevices = ["c"]\n',
    );
    const logs: Record<string, unknown>[] = [];
    const log = createLogger(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString('utf8').split('\n'))
            if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      }),
    );

    const real = currentPlatform(fx.lab.stateDir);
    let entered: () => void = () => undefined;
    const inRound = new Promise<void>((resolve) => (entered = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let gated = false;
    const platform = Object.assign(Object.create(real) as Platform, {
      killWorker: async (...args: Parameters<Platform['killWorker']>): Promise<number[]> => {
        if (args[0].workerId === WORKER && !gated) {
          gated = true;
          entered();
          await released;
        }
        return real.killWorker(...args);
      },
    });
    const agent = new Agent({
      lab: { ...fx.lab, listen: { host: '127.0.0.1', port: 0 } },
      log,
      hotplug: () => () => undefined,
      platform,
      reconcileIntervalMs: 20,
    });
    await agent.start();
    lifo(t).after(async () => {
      release();
      await agent.stop();
    });

    // A lease this agent does not know: its cleanup failed (no user was ever made), the slot stays cleaning.
    fx.db.insert(jobs).values({ id: 'j1', target: 't', timeoutMs: 60_000, state: 'cleaning', slot: 'a' }).run();
    fx.db
      .insert(workers)
      .values({
        id: WORKER,
        jobId: 'j1',
        slot: 'a',
        username: `ls-${WORKER}`,
        tokenHash: 'x',
        rootDir: join(fx.dir, 'gone'),
        uid: -1,
        gid: -1,
        state: 'cleanup-failed',
        createdAt: Date.now(),
      })
      .run();
    fx.db
      .update(slots)
      .set({ usage: 'cleaning', leaseJobId: 'j1', leaseWorkerId: WORKER })
      .where(eq(slots.name, 'a'))
      .run();
    await eventually(() => gated, { message: 'a reconcile round to reach the leftover worker' });
    await inRound;

    const stopping = agent.stop();
    // Released once the agent says it waits for the round; or, if its stop ends without waiting, then:
    // the round goes on against a closed database and the checks below fail.
    await Promise.race([
      eventually(() => logs.some((l) => l['msg'] === 'waiting for the reconcile round in flight'), {
        message: 'the agent to wait for the round in flight',
      }),
      stopping,
    ]);
    release();
    await stopping;

    assert.equal(agent.currentState, 'stopped');
    assert.deepEqual(
      logs.filter((l) => l['level'] === 'error' || l['level'] === 'fatal').map((l) => l['msg']),
      [],
      'no write of the round failed (a closed database would fail them)',
    );
    assert.equal(
      fx.db.select().from(workers).where(eq(workers.id, WORKER)).get()?.state,
      'destroyed',
      "the round's cleanup was recorded",
    );
    const slot = fx.db.select().from(slots).where(eq(slots.name, 'a')).get();
    assert.deepEqual([slot?.usage, slot?.leaseJobId], ['idle', null]);
    assert.equal(fx.db.select().from(jobs).where(eq(jobs.id, 'j1')).get()?.state, 'failed');
  });
});
