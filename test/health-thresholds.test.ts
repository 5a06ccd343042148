// Health transitions from sequences of results, and their persistence: counters,
// bounded history and one event per transition per slot, in a real SQLite file.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import { openDatabase } from '../src/db/open-database.js';
import { checkResults, events } from '../src/db/schema.js';
import { HealthStore } from '../src/health/health-store.js';
import { applyResult, INITIAL_COUNTERS, type HealthCounters } from '../src/health/thresholds.js';
import { tempDir } from './helpers/temp-dir.js';

const T = { failure: 3, success: 2 };

function run(sequence: string, start: HealthCounters = INITIAL_COUNTERS): string[] {
  let counters = start;
  return sequence.split('').map((c) => {
    counters = applyResult(counters, c === '+', T);
    return counters.state;
  });
}

describe('thresholds', () => {
  it('takes the first verdict at once from unknown', () => {
    assert.deepEqual(run('+'), ['healthy']);
    assert.deepEqual(run('-'), ['unhealthy']);
  });
  it('needs failure_threshold consecutive failures to become unhealthy', () => {
    assert.deepEqual(run('+--+---'), ['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'unhealthy']);
  });
  it('needs success_threshold consecutive successes to recover', () => {
    assert.deepEqual(run('-+-++'), ['unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'healthy']);
  });
  it('lets a definitive failure (device gone) skip the count', () => {
    const healthy = applyResult(INITIAL_COUNTERS, true, T);
    assert.equal(applyResult(healthy, false, T, true).state, 'unhealthy');
  });
});

describe('health store', () => {
  function setup(
    t: Parameters<typeof tempDir>[0],
    history = 5,
  ): { store: HealthStore; db: ReturnType<typeof openDatabase> } {
    const dir = tempDir(t);
    const file = join(dir, 'slots.toml');
    writeFileSync(
      file,
      `[health]\nhistory = ${history}\nfailure_threshold = 2\nsuccess_threshold = 1\n` +
        '[devices.mux]\nkind = "command"\nargv = ["true"]\n[devices.own]\nkind = "command"\nargv = ["true"]\n' +
        '[slots.a]\ntarget = "t"\ndevices = ["mux", "own"]\n[slots.b]\ntarget = "t"\ndevices = ["mux"]\n',
    );
    const lab = loadLabConfig(file, { stateDir: join(dir, 'state') });
    const db = openDatabase({ stateDir: lab.stateDir });
    t.after(() => db.$client.close());
    return { store: new HealthStore(db, lab), db };
  }
  const ok = { ok: true, reason: 'fine', durationMs: 3 };
  const bad = { ok: false, reason: 'probe gone', detail: 'nothing on the bus', durationMs: 4 };

  it('records transitions as events for every slot that uses the device', (t) => {
    const { store, db } = setup(t);
    assert.deepEqual(store.record('mux', ok, 'interval'), {
      device: 'mux',
      from: 'unknown',
      to: 'healthy',
      result: ok,
    });
    assert.equal(store.record('mux', bad, 'interval'), null);
    assert.equal(store.record('mux', bad, 'interval')?.to, 'unhealthy');
    const rows = db.select().from(events).where(eq(events.type, 'health.changed')).all();
    assert.deepEqual(
      rows.map((r) => [r.slot, r.device, r.message]),
      [
        ['a', 'mux', 'mux unknown -> healthy: fine'],
        ['b', 'mux', 'mux unknown -> healthy: fine'],
        ['a', 'mux', 'mux healthy -> unhealthy: probe gone'],
        ['b', 'mux', 'mux healthy -> unhealthy: probe gone'],
      ],
    );
    assert.deepEqual(store.states(['mux', 'own']), new Map([['mux', 'unhealthy']]));
  });

  it('keeps only the newest results per device', (t) => {
    const { store, db } = setup(t, 5);
    for (let i = 0; i < 12; i++) store.record('own', { ...ok, reason: `run ${i}` }, 'interval');
    store.record('mux', ok, 'interval');
    assert.deepEqual(
      store.history('own', 100).map((h) => h.reason),
      ['run 11', 'run 10', 'run 9', 'run 8', 'run 7'],
    );
    assert.equal(db.select().from(checkResults).where(eq(checkResults.device, 'mux')).all().length, 1);
  });
});
