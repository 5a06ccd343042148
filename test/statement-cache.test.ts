// drizzle's prepared statements reused by SQL text (src/db/statement-cache.ts), on a real
// database file: one prepare per text, the right row shapes whichever query ran a statement
// last, a bounded cache, and transactions that still commit and roll back.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { asc, eq, inArray, sql } from 'drizzle-orm';
import { openDatabase, openDatabaseReadOnly, type Db } from '../src/db/open-database.js';
import { slots } from '../src/db/schema.js';
import { STATEMENT_CACHE_SIZE, statementCacheOf } from '../src/db/statement-cache.js';
import { ensureSlotRows } from '../src/slots/slot-states.js';
import { tempDir } from './helpers/temp-dir.js';

function open(t: TestContext, stateDir = tempDir(t)): Db {
  const db = openDatabase({ stateDir });
  t.after(() => db.$client.close());
  ensureSlotRows(db, ['gimlet-1', 'gimlet-2']);
  return db;
}

/** Counts the statements the connection compiles, by SQL text. */
function countPrepares(t: TestContext, db: Db): Map<string, number> {
  const counts = new Map<string, number>();
  const prepare = db.$client.prepare.bind(db.$client);
  t.mock.method(db.$client, 'prepare', (source: string) => {
    counts.set(source, (counts.get(source) ?? 0) + 1);
    return prepare(source);
  });
  return counts;
}

const usageOf = (db: Pick<Db, 'select'>, name: string) =>
  db.select({ usage: slots.usage }).from(slots).where(eq(slots.name, name)).get()?.usage;

describe('statement cache', () => {
  it('prepares a query once however often it runs, and leaves $client.prepare alone', (t) => {
    const db = open(t);
    const prepares = countPrepares(t, db);
    for (const name of ['gimlet-1', 'gimlet-2', 'gimlet-1']) {
      db.update(slots)
        .set({ holdReason: `flaky ${name}` })
        .where(eq(slots.name, name))
        .run();
      assert.equal(usageOf(db, name), 'idle');
    }
    assert.deepEqual([...prepares.values()], [1, 1], [...prepares.keys()].join('\n'));
    assert.equal(
      db.select({ reason: slots.holdReason }).from(slots).where(eq(slots.name, 'gimlet-2')).get()?.reason,
      'flaky gimlet-2',
    );
    // Our own code's statements stay its own.
    assert.notEqual(db.$client.prepare('SELECT 1'), db.$client.prepare('SELECT 1'));
  });

  it('returns objects or arrays as each call asks, whatever mode the shared statement was left in', (t) => {
    const db = open(t);
    const mapped = db.select({ slot: slots.name, usage: slots.usage }).from(slots).orderBy(asc(slots.name));
    const text = sql.raw(mapped.toSQL().sql);
    const prepares = countPrepares(t, db);
    const objects = [
      { name: 'gimlet-1', usage: 'idle' },
      { name: 'gimlet-2', usage: 'idle' },
    ];
    const fields = objects.map(({ name, usage }) => ({ slot: name, usage }));
    const arrays = objects.map(({ name, usage }) => [name, usage]);

    // drizzle maps fields through raw mode (arrays), and never turns it off.
    assert.deepEqual(mapped.all(), fields);
    assert.deepEqual(db.all(text), objects);
    assert.deepEqual(mapped.get(), fields[0]);
    assert.deepEqual(db.get(text), objects[0]);
    assert.deepEqual(db.values(text), arrays);
    assert.deepEqual(db.all(text), objects);
    // A query prepared and kept shares the statement too: it sets its mode on every run.
    const kept = mapped.prepare();
    assert.deepEqual(kept.all(), fields);
    assert.deepEqual(db.all(text), objects);
    assert.deepEqual(kept.all(), fields);
    assert.deepEqual(db.get(text), objects[0]);
    assert.deepEqual([...prepares.entries()], [[mapped.toSQL().sql, 1]]);
  });

  it('stays bounded, dropping the least recently used statement first', (t) => {
    const db = open(t);
    const cache = statementCacheOf(db.$client);
    assert.ok(cache, 'openDatabase gives drizzle a statement cache');
    assert.equal(cache.capacity, STATEMENT_CACHE_SIZE);
    const prepares = countPrepares(t, db);
    // An IN list of every length from 1 up: a new SQL text each time.
    const select = (length: number) =>
      db
        .select({ name: slots.name })
        .from(slots)
        .where(
          inArray(
            slots.name,
            Array.from({ length }, (_, i) => `gimlet-${i + 1}`),
          ),
        );
    const lengths = Array.from({ length: STATEMENT_CACHE_SIZE + 50 }, (_, i) => i + 1);
    for (const length of lengths) assert.equal(select(length).all().length, Math.min(length, 2));
    assert.equal(cache.size, STATEMENT_CACHE_SIZE);
    assert.equal(prepares.size, lengths.length);

    const last = select(lengths.length);
    last.all();
    assert.equal(prepares.get(last.toSQL().sql), 1, 'the most recent is still cached');
    const first = select(1);
    first.all();
    assert.equal(prepares.get(first.toSQL().sql), 2, 'the oldest was dropped, and is prepared again');
    assert.equal(cache.size, STATEMENT_CACHE_SIZE);
  });

  it('commits and rolls back transactions and savepoints as before, with statements reused inside them', (t) => {
    const db = open(t);
    const prepares = countPrepares(t, db);
    const setUsage = (tx: Pick<Db, 'update'>, name: string, usage: 'leased' | 'idle') =>
      tx.update(slots).set({ usage }).where(eq(slots.name, name)).run();
    for (let round = 0; round < 3; round++) {
      db.transaction((tx) => {
        setUsage(tx, 'gimlet-1', 'leased');
        assert.equal(usageOf(tx, 'gimlet-1'), 'leased');
        // A nested transaction (a savepoint) that fails is undone alone.
        assert.throws(() =>
          tx.transaction((nested) => {
            setUsage(nested, 'gimlet-2', 'leased');
            throw new Error('refused');
          }),
        );
        assert.equal(usageOf(tx, 'gimlet-2'), 'idle');
      });
      assert.equal(usageOf(db, 'gimlet-1'), 'leased');
      assert.throws(
        () =>
          db.transaction((tx) => {
            setUsage(tx, 'gimlet-1', 'idle');
            assert.equal(usageOf(tx, 'gimlet-1'), 'idle');
            throw new Error('rolled back');
          }),
        /rolled back/,
      );
      assert.equal(usageOf(db, 'gimlet-1'), 'leased');
      setUsage(db, 'gimlet-1', 'idle');
    }
    assert.ok(
      [...prepares.values()].every((n) => n === 1),
      `each text prepared once: ${JSON.stringify([...prepares])}`,
    );
  });

  it('gives a statement busy iterating to no one: that call gets a fresh one', (t) => {
    const db = open(t);
    const cache = statementCacheOf(db.$client);
    assert.ok(cache);
    const source = 'SELECT name FROM slots ORDER BY name';
    const iterating = cache.prepare(source);
    const rows = iterating.iterate();
    assert.deepEqual(rows.next().value, { name: 'gimlet-1' });
    const other = cache.prepare(source);
    assert.notEqual(other, iterating);
    assert.deepEqual(other.all(), [{ name: 'gimlet-1' }, { name: 'gimlet-2' }]);
    rows.return?.();
    assert.equal(cache.prepare(source), iterating, 'done iterating, the cached one is handed out again');
  });

  it('serves a read-only database too', (t) => {
    const stateDir = tempDir(t);
    const writer = openDatabase({ stateDir });
    ensureSlotRows(writer, ['gimlet-1']);
    writer.$client.close();
    const db = openDatabaseReadOnly(stateDir);
    assert.ok(db);
    t.after(() => db.$client.close());
    assert.ok(statementCacheOf(db.$client));
    assert.equal(usageOf(db, 'gimlet-1'), 'idle');
    assert.equal(usageOf(db, 'gimlet-1'), 'idle');
    assert.equal(statementCacheOf(db.$client)?.size, 1);
  });
});
